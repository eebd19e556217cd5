package kafka

// DescribeUserScramCredentials, key 50, versions 0-0.
//
// Answered from the broker's image after a read barrier, so a credential change that was
// acknowledged shows. Users null lists every user with a credential; a user named twice
// gets DUPLICATE_RESOURCE, one without credentials RESOURCE_NOT_FOUND, as in Kafka.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeUserScramCredentials lists the mechanisms and iteration counts of users'
// credentials; never their keys.
func DescribeUserScramCredentials(v View, req *kmsg.DescribeUserSCRAMCredentialsRequest) *kmsg.DescribeUserSCRAMCredentialsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	resp.SetVersion(req.GetVersion())
	if code := v.CheckCluster(acl.OpDescribe); code != 0 { // DESCRIBE on the cluster
		resp.ErrorCode = code
		return resp
	}
	keys := v.Image.ScramKeys()
	infos := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	var users []string
	for _, k := range keys {
		c, _ := v.Image.ScramCredential(k.User, k.Mechanism)
		if _, seen := infos[k.User]; !seen {
			users = append(users, k.User)
		}
		infos[k.User] = append(infos[k.User], kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{
			Mechanism: int8(k.Mechanism), Iterations: c.Iterations})
	}
	result := func(user string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User, r.CredentialInfos = user, infos[user]
		return r
	}
	if req.Users == nil {
		for _, u := range users {
			resp.Results = append(resp.Results, result(u))
		}
		return resp
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	for _, u := range req.Users {
		r := result(u.Name)
		switch n := count[u.Name]; {
		case n < 0:
			continue // a duplicate, answered once already
		case n > 1:
			count[u.Name] = -1
			r.CredentialInfos = nil
			r.ErrorCode = kerr.DuplicateResource.Code
			r.ErrorMessage = message("user " + u.Name + " named more than once")
		case len(r.CredentialInfos) == 0:
			r.ErrorCode = kerr.ResourceNotFound.Code
			r.ErrorMessage = message("user " + u.Name + " has no SCRAM credential")
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}

func message(s string) *string { return &s }
