// Package cloud is an autotag.Source that tags the local host from its
// cloud provider's instance metadata service: AWS (IMDSv2, with its token
// flow), Google Cloud (the metadata server, Metadata-Flavor: Google) and
// Azure (IMDS, Metadata: true).
//
// A Provider fetches one Metadata: region, zone, instance id, hostname and,
// per network interface, its VPC, subnet and addresses. The Source detects
// the provider by asking all of them at once with a short timeout, then
// publishes, in Config.VPC:
//   - each local address of the instance (/32, /128): region, az, chost
//     (the instance id), host (the instance's hostname), l3_epc (the VPC or
//     network) and subnet;
//   - each subnet prefix: region, az, l3_epc, subnet;
//   - each VPC prefix: region, l3_epc;
//   - the instance's cloud tags (AWS, when tags in metadata are enabled;
//     Azure) as autotag.LabelEntry metadata of kind "chost".
//
// It then fetches again every Config.Refresh and publishes what changed.
// Where a provider names no subnet (Google Cloud, Azure) the subnet is its
// prefix ("10.128.0.0/20"); Azure names no VPC, so l3_epc stays empty.
//
// Concurrency: Providers are safe for concurrent use; a Source's Run is
// called once and its Stats is safe for concurrent use.
//
// Errors: a Provider returns ErrNotDetected (wrapped) when its service does
// not answer as that provider's service (a timeout, a refused connection,
// a missing Metadata-Flavor header), and *FetchError for a bad answer from
// a service that is there. Malformed documents never cause a panic. Run
// returns ErrNotDetected when no provider answers; failures of later
// refreshes are counted in Stats and the last good entries stay published.
package cloud
