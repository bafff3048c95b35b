package autotag

// field returns a pointer to the field of r named by tag key (Keys, plus
// "pod_uid"), or nil.
func (r *Resource) field(key string) *string {
	switch key {
	case "region":
		return &r.Region
	case "az":
		return &r.AZ
	case "host":
		return &r.Host
	case "chost":
		return &r.CHost
	case "l3_epc":
		return &r.L3EPC
	case "subnet":
		return &r.Subnet
	case "natgw":
		return &r.NATGW
	case "lb":
		return &r.LB
	case "pod_cluster":
		return &r.PodCluster
	case "pod_node":
		return &r.PodNode
	case "pod_ns":
		return &r.PodNS
	case "pod_group":
		return &r.PodGroup
	case "pod":
		return &r.Pod
	case "service":
		return &r.Service
	case "ingress":
		return &r.Ingress
	case "gprocess":
		return &r.GProcess
	case "container_id":
		return &r.ContainerID
	case "pod_uid":
		return &r.PodUID
	}
	return nil
}

// SetTag sets the field of r named by a tag key (one of Keys, or
// "pod_uid") and reports whether the key is known.
func (r *Resource) SetTag(key, value string) bool {
	f := r.field(key)
	if f == nil {
		return false
	}
	*f = value
	return true
}

// Tag returns the value of the field named by a tag key (one of Keys, or
// "pod_uid"), "" when the key is unknown or the field empty.
func (r *Resource) Tag(key string) string {
	if f := r.field(key); f != nil {
		return *f
	}
	return ""
}
