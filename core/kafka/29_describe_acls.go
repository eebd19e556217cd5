package kafka

// DescribeAcls, key 29, versions 0-3.
//
// Answered from the broker's image after a read barrier, so an acknowledged change
// shows. Needs DESCRIBE on the cluster; SECURITY_DISABLED when the broker does not
// authorize, as in Kafka.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeAcls lists the bindings that match the request's filter, grouped by resource
// pattern.
func DescribeAcls(v View, req *kmsg.DescribeACLsRequest) *kmsg.DescribeACLsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.SetVersion(req.GetVersion())
	if v.Access == nil {
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = message("no authorizer: set authorizer.class.name")
		return resp
	}
	if code := v.CheckCluster(acl.OpDescribe); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	f := acl.Filter{Type: acl.ResourceType(req.ResourceType), Name: req.ResourceName, Pattern: acl.PatternType(req.ResourcePatternType),
		Principal: req.Principal, Host: req.Host, Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType)}
	if why := f.Validate(); why != "" {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, message(why)
		return resp
	}
	for _, b := range v.Image.Acls() { // sorted by resource pattern first
		if !f.Matches(b) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(b.Type) ||
			resp.Resources[n-1].ResourceName != b.Name || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(b.Pattern) {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = kmsg.ACLResourceType(b.Type), b.Name, kmsg.ACLResourcePatternType(b.Pattern)
			resp.Resources = append(resp.Resources, r)
			n++
		}
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, kmsg.DescribeACLsResponseResourceACL{
			Principal: b.Principal, Host: b.Host, Operation: kmsg.ACLOperation(b.Operation), PermissionType: kmsg.ACLPermissionType(b.Permission)})
	}
	return resp
}
