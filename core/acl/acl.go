// Package acl is Kafka's access control model: bindings of a resource pattern (a
// topic, group, the cluster, a transactional id, a delegation token; by literal name,
// the "*" wildcard or a prefix) to an entry (a principal, a host, an operation, allow or
// deny), the filters the ACL APIs take, and the decision an authorizer makes. It is pure;
// the bindings live in the metadata image.
package acl

import (
	"strings"
)

// ResourceType is Kafka's AclResourceType.
type ResourceType int8

const (
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
)

// PatternType is Kafka's PatternType.
type PatternType int8

const (
	PatternAny      PatternType = 1 // filters only: any pattern type, exact name
	PatternMatch    PatternType = 2 // filters only: every pattern that applies to the name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is Kafka's AclOperation.
type Operation int8

const (
	OpAny             Operation = 1 // filters only
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permission is Kafka's AclPermissionType.
type Permission int8

const (
	PermissionAny   Permission = 1 // filters only
	PermissionDeny  Permission = 2
	PermissionAllow Permission = 3
)

// ClusterName is the one name of the cluster resource.
const ClusterName = "kafka-cluster"

// Wildcard, as a literal resource name, a principal's name or a host, matches all.
const Wildcard = "*"

// Anonymous is the principal of a client that did not authenticate.
const Anonymous = "User:ANONYMOUS"

// Bounds of one binding's strings.
const (
	NameBytesMax      = 255
	PrincipalBytesMax = 255 + len("User:")
	HostBytesMax      = 255
)

// Resource is a resource pattern.
type Resource struct {
	Type    ResourceType
	Name    string
	Pattern PatternType
}

// Entry is who a binding concerns and what it allows or denies.
type Entry struct {
	Principal  string
	Host       string
	Operation  Operation
	Permission Permission
}

// Binding is one ACL.
type Binding struct {
	Resource
	Entry
}

// Validate reports why a binding cannot be stored ("" when it can), as Kafka's
// CreateAcls refuses it.
func (b Binding) Validate() string {
	switch {
	case b.Type < ResourceTopic || b.Type > ResourceDelegationToken:
		return "resource type must be topic, group, cluster, transactional id or delegation token"
	case b.Pattern != PatternLiteral && b.Pattern != PatternPrefixed:
		return "pattern type must be literal or prefixed"
	case b.Name == "" || len(b.Name) > NameBytesMax:
		return "resource name empty or too long"
	case b.Type == ResourceCluster && (b.Name != ClusterName || b.Pattern != PatternLiteral):
		return "the cluster resource is the literal " + ClusterName
	case b.Pattern == PatternPrefixed && b.Name == Wildcard:
		return "a prefixed pattern cannot be the wildcard"
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return "unknown operation"
	case b.Permission != PermissionAllow && b.Permission != PermissionDeny:
		return "permission must be allow or deny"
	case b.Host == "" || len(b.Host) > HostBytesMax:
		return "host empty or too long (* for any host)"
	}
	typ, name, ok := strings.Cut(b.Principal, ":")
	if !ok || typ == "" || name == "" || len(b.Principal) > PrincipalBytesMax {
		return "principal must be TYPE:NAME, such as User:alice or User:*"
	}
	return ""
}

// Filter selects bindings (DescribeAcls, DeleteAcls). Nil strings and the Any values
// match everything.
type Filter struct {
	Type       ResourceType
	Name       *string
	Pattern    PatternType
	Principal  *string
	Host       *string
	Operation  Operation
	Permission Permission
}

// Validate reports why a filter is refused ("" when it is not).
func (f Filter) Validate() string {
	switch {
	case f.Type < ResourceAny || f.Type > ResourceDelegationToken:
		return "unknown resource type"
	case f.Pattern < PatternAny || f.Pattern > PatternPrefixed:
		return "unknown pattern type"
	case f.Operation < OpAny || f.Operation > OpDescribeTokens:
		return "unknown operation"
	case f.Permission < PermissionAny || f.Permission > PermissionAllow:
		return "unknown permission"
	}
	return ""
}

// Matches reports whether b passes the filter.
func (f Filter) Matches(b Binding) bool {
	if f.Type != ResourceAny && f.Type != b.Type {
		return false
	}
	if !f.matchesPattern(b.Resource) {
		return false
	}
	return (f.Principal == nil || *f.Principal == b.Principal) &&
		(f.Host == nil || *f.Host == b.Host) &&
		(f.Operation == OpAny || f.Operation == b.Operation) &&
		(f.Permission == PermissionAny || f.Permission == b.Permission)
}

func (f Filter) matchesPattern(r Resource) bool {
	switch f.Pattern {
	case PatternAny:
		return f.Name == nil || *f.Name == r.Name
	case PatternMatch:
		return f.Name == nil || applies(r, *f.Name)
	}
	return f.Pattern == r.Pattern && (f.Name == nil || *f.Name == r.Name)
}

// applies reports whether pattern r covers the resource named name (of r's type).
func applies(r Resource, name string) bool {
	if r.Pattern == PatternPrefixed {
		return strings.HasPrefix(name, r.Name)
	}
	return r.Name == name || r.Name == Wildcard
}

// Request is one authorization question.
type Request struct {
	Principal string
	Host      string
	Operation Operation
	Type      ResourceType
	Name      string
}

// Bindings gives an authorizer the bindings whose pattern may cover a resource: every
// binding of the resource type with literal name name or Wildcard, or prefixed by a
// prefix of name. Order does not matter.
type Bindings func(t ResourceType, name string, each func(Binding))

// Config is how the authorizer decides what no binding decides.
type Config struct {
	// SuperUsers are allowed everything (super.users).
	SuperUsers []string
	// AllowIfNoACL allows access to a resource no binding covers
	// (allow.everyone.if.no.acl.found).
	AllowIfNoACL bool
}

// Authorize decides a request as Kafka's authorizer does: super users may do anything;
// a matching deny wins; then a matching allow (where READ, WRITE, DELETE and ALTER
// imply DESCRIBE, and ALTER_CONFIGS implies DESCRIBE_CONFIGS); a resource no binding
// covers at all is allowed only with AllowIfNoACL.
func Authorize(cfg *Config, bindings Bindings, r Request) bool {
	for _, su := range cfg.SuperUsers {
		if su == r.Principal {
			return true
		}
	}
	covered, denied, allowed := false, false, false
	bindings(r.Type, r.Name, func(b Binding) {
		if b.Type != r.Type || !applies(b.Resource, r.Name) {
			return
		}
		covered = true
		if !principalMatches(b.Principal, r.Principal) || (b.Host != Wildcard && b.Host != r.Host) {
			return
		}
		switch b.Permission {
		case PermissionDeny:
			if b.Operation == OpAll || b.Operation == r.Operation {
				denied = true
			}
		case PermissionAllow:
			if b.Operation == OpAll || b.Operation == r.Operation || implies(b.Operation, r.Operation) {
				allowed = true
			}
		}
	})
	switch {
	case denied:
		return false
	case allowed:
		return true
	}
	return !covered && cfg.AllowIfNoACL
}

func principalMatches(pattern, principal string) bool {
	if pattern == principal {
		return true
	}
	typ, name, _ := strings.Cut(pattern, ":")
	ptyp, _, _ := strings.Cut(principal, ":")
	return name == Wildcard && typ == ptyp
}

// implies reports whether an allowed operation grants another.
func implies(allowed, asked Operation) bool {
	switch asked {
	case OpDescribe:
		return allowed == OpRead || allowed == OpWrite || allowed == OpDelete || allowed == OpAlter
	case OpDescribeConfigs:
		return allowed == OpAlterConfigs
	}
	return false
}

// Compare orders bindings totally (for canonical encodings and listings).
func Compare(a, b Binding) int {
	switch {
	case a.Type != b.Type:
		return int(a.Type) - int(b.Type)
	case a.Pattern != b.Pattern:
		return int(a.Pattern) - int(b.Pattern)
	case a.Name != b.Name:
		return strings.Compare(a.Name, b.Name)
	case a.Principal != b.Principal:
		return strings.Compare(a.Principal, b.Principal)
	case a.Host != b.Host:
		return strings.Compare(a.Host, b.Host)
	case a.Operation != b.Operation:
		return int(a.Operation) - int(b.Operation)
	}
	return int(a.Permission) - int(b.Permission)
}
