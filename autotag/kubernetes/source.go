package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/metaflow-go/metaflow/autotag"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Sentinel errors.
var (
	// ErrRunTwice is returned by a second call of Run.
	ErrRunTwice = errors.New("kubernetes: Run called twice")
	// ErrNotSynced is returned (wrapped, with the resources that did not
	// sync) when the caches do not fill within Config.SyncTimeout: the API
	// server is unreachable or the credentials may not list a resource.
	ErrNotSynced = errors.New("kubernetes: caches not synced")
)

// Config configures a Source. The zero value watches the cluster the
// process runs in (in-cluster service account) with the defaults below.
type Config struct {
	// Client is the API client. Default: one built from REST.
	Client kubernetes.Interface
	// REST configures the client when Client is nil. Default: the
	// in-cluster configuration (rest.InClusterConfig).
	REST *rest.Config
	// Cluster is the pod_cluster tag of every entry. Default: none.
	Cluster string
	// VPC is the VPC of the address entries (autotag.AddrEntry.VPC).
	// Default 0, the default VPC.
	VPC int32
	// Namespace limits the watch to one namespace (nodes and namespaces
	// are still cluster-wide). Default "": all namespaces.
	Namespace string
	// Resync is the informers' resync period. Default 0: no resync; the
	// watches keep the caches current.
	Resync time.Duration
	// Debounce is how long the source waits after a change for more
	// changes before it publishes. Default 100 ms; at most 10 s.
	Debounce time.Duration
	// SyncTimeout bounds the first fill of the caches; Run fails with
	// ErrNotSynced after it. Default 60 s.
	SyncTimeout time.Duration
	// Logger receives the source's rare notices. Default: discard.
	Logger *slog.Logger
}

// Stats are the source's counters.
type Stats struct {
	Events    uint64 // informer notifications (adds, updates, deletes)
	Publishes uint64 // complete entry sets sent to the Updater
	Addrs     uint64 // address entries in the last publish
	Pods      uint64 // pod entries in the last publish
}

// Source publishes Kubernetes entries (see the package documentation)
// through client-go shared informers. Create it with New.
type Source struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	ran    atomic.Bool

	events, publishes, addrs, pods atomic.Uint64
	dirty                          chan struct{}
}

// New checks cfg and builds the client. It does not contact the API server.
func New(cfg Config) (*Source, error) {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	cfg.Debounce = min(cfg.Debounce, 10*time.Second)
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = time.Minute
	}
	if cfg.Resync < 0 {
		return nil, fmt.Errorf("kubernetes: negative Resync %v", cfg.Resync)
	}
	s := &Source{cfg: cfg, client: cfg.Client, log: cfg.Logger, dirty: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		rc := cfg.REST
		if rc == nil {
			var err error
			if rc, err = rest.InClusterConfig(); err != nil {
				return nil, fmt.Errorf("kubernetes: in-cluster config: %w", err)
			}
		}
		c, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: client: %w", err)
		}
		s.client = c
	}
	return s, nil
}

// Stats returns the counters. Safe for concurrent use.
func (s *Source) Stats() Stats {
	return Stats{
		Events:    s.events.Load(),
		Publishes: s.publishes.Load(),
		Addrs:     s.addrs.Load(),
		Pods:      s.pods.Load(),
	}
}

// Run starts the informers, waits for their caches, publishes the complete
// entries, then publishes again after every change (coalesced over
// Config.Debounce) until ctx is done. It returns ctx.Err() then,
// ErrNotSynced when the caches do not fill in time, ErrRunTwice on a
// second call. Watch failures (a closed stream, 410 Gone) are retried by
// client-go's reflectors, which re-list as needed.
func (s *Source) Run(ctx context.Context, u autotag.Updater) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	opts := []informers.SharedInformerOption{informers.WithTransform(trim)}
	if s.cfg.Namespace != "" {
		opts = append(opts, informers.WithNamespace(s.cfg.Namespace))
	}
	f := informers.NewSharedInformerFactoryWithOptions(s.client, s.cfg.Resync, opts...)
	// Nodes and namespaces are cluster-scoped: their own factory, without
	// the namespace filter.
	cf := informers.NewSharedInformerFactoryWithOptions(s.client, s.cfg.Resync, informers.WithTransform(trim))

	pods := f.Core().V1().Pods()
	services := f.Core().V1().Services()
	slices := f.Discovery().V1().EndpointSlices()
	ingresses := f.Networking().V1().Ingresses()
	replicaSets := f.Apps().V1().ReplicaSets()
	jobs := f.Batch().V1().Jobs()
	nodes := cf.Core().V1().Nodes()
	namespaces := cf.Core().V1().Namespaces()

	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed() },
		UpdateFunc: func(any, any) { s.changed() },
		DeleteFunc: func(any) { s.changed() },
	}
	named := []struct {
		name string
		inf  cache.SharedIndexInformer
	}{
		{"pods", pods.Informer()},
		{"services", services.Informer()},
		{"endpointslices", slices.Informer()},
		{"ingresses", ingresses.Informer()},
		{"replicasets", replicaSets.Informer()},
		{"jobs", jobs.Informer()},
		{"nodes", nodes.Informer()},
		{"namespaces", namespaces.Informer()},
	}
	for _, n := range named {
		if _, err := n.inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("kubernetes: %s handler: %w", n.name, err)
		}
	}
	f.Start(ctx.Done())
	cf.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informers, which stop with ctx
		f.Shutdown()
		cf.Shutdown()
	}()

	syncCtx, syncCancel := context.WithTimeout(ctx, s.cfg.SyncTimeout)
	var missing []string
	for _, n := range named {
		if !cache.WaitForCacheSync(syncCtx.Done(), n.inf.HasSynced) {
			missing = append(missing, n.name)
		}
	}
	syncCancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %v after %v", ErrNotSynced, missing, s.cfg.SyncTimeout)
	}

	rsLister, jobLister := replicaSets.Lister(), jobs.Lister()
	build := func() *objects {
		o := &objects{
			cluster: s.cfg.Cluster,
			vpc:     s.cfg.VPC,
			replicaSet: func(ns, name string) *appsv1.ReplicaSet {
				rs, _ := rsLister.ReplicaSets(ns).Get(name)
				return rs
			},
			job: func(ns, name string) *batchv1.Job {
				j, _ := jobLister.Jobs(ns).Get(name)
				return j
			},
		}
		all := labels.Everything()
		o.pods, _ = pods.Lister().List(all)
		o.services, _ = services.Lister().List(all)
		o.slices, _ = slices.Lister().List(all)
		o.ingresses, _ = ingresses.Lister().List(all)
		o.nodes, _ = nodes.Lister().List(all)
		o.namespaces, _ = namespaces.Lister().List(all)
		return o
	}
	publish := func() {
		e := derive(build())
		s.addrs.Store(uint64(len(e.Addrs)))
		s.pods.Store(uint64(len(e.Pods)))
		u.Update(e)
		s.publishes.Add(1)
	}
	// Drain the notifications of the initial lists: the first publish
	// covers them.
	select {
	case <-s.dirty:
	default:
	}
	publish()
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.dirty:
		}
		t.Reset(s.cfg.Debounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		select { // changes during the wait are in this publish
		case <-s.dirty:
		default:
		}
		publish()
	}
}

func (s *Source) changed() {
	s.events.Add(1)
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// trim drops what the source never reads from cached objects (managed
// fields, annotations, pod specs' containers) to keep the caches small.
func trim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		m.SetAnnotations(nil)
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Spec.Containers, o.Spec.InitContainers, o.Spec.EphemeralContainers = nil, nil, nil
		o.Spec.Volumes, o.Status.Conditions = nil, nil
	case *appsv1.ReplicaSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *corev1.Node:
		o.Status.Images = nil
	}
	return obj, nil
}

var _ autotag.Source = (*Source)(nil)
