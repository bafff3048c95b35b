// Package cloud is an autotag.Source that tags the local host from its
// cloud provider's instance metadata service.
package cloud
