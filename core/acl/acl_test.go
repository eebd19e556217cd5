package acl

import "testing"

func list(bs ...Binding) Bindings {
	return func(t ResourceType, name string, each func(Binding)) {
		for _, b := range bs {
			each(b)
		}
	}
}

func bind(t ResourceType, name string, p PatternType, principal, host string, op Operation, perm Permission) Binding {
	return Binding{Resource{t, name, p}, Entry{principal, host, op, perm}}
}

func TestAuthorize(t *testing.T) {
	alice, bob := "User:alice", "User:bob"
	readOrders := bind(ResourceTopic, "orders", PatternLiteral, alice, "*", OpRead, PermissionAllow)
	allPrefix := bind(ResourceTopic, "ord", PatternPrefixed, "User:*", "*", OpAll, PermissionAllow)
	denyBobHost := bind(ResourceTopic, "*", PatternLiteral, bob, "10.0.0.9", OpAll, PermissionDeny)
	alterCfg := bind(ResourceTopic, "logs", PatternLiteral, alice, "*", OpAlterConfigs, PermissionAllow)
	cases := []struct {
		name string
		cfg  Config
		bs   []Binding
		req  Request
		want bool
	}{
		{"no binding, default deny", Config{}, nil, Request{alice, "h", OpRead, ResourceTopic, "orders"}, false},
		{"no binding, allow everyone", Config{AllowIfNoACL: true}, nil, Request{alice, "h", OpRead, ResourceTopic, "orders"}, true},
		{"covered for someone else: allow everyone does not apply", Config{AllowIfNoACL: true}, []Binding{readOrders}, Request{bob, "h", OpRead, ResourceTopic, "orders"}, false},
		{"super user", Config{SuperUsers: []string{bob}}, []Binding{denyBobHost}, Request{bob, "10.0.0.9", OpRead, ResourceTopic, "x"}, true},
		{"literal allow", Config{}, []Binding{readOrders}, Request{alice, "h", OpRead, ResourceTopic, "orders"}, true},
		{"read implies describe", Config{}, []Binding{readOrders}, Request{alice, "h", OpDescribe, ResourceTopic, "orders"}, true},
		{"read does not give write", Config{}, []Binding{readOrders}, Request{alice, "h", OpWrite, ResourceTopic, "orders"}, false},
		{"alter configs implies describe configs", Config{}, []Binding{alterCfg}, Request{alice, "h", OpDescribeConfigs, ResourceTopic, "logs"}, true},
		{"prefixed wildcard principal", Config{}, []Binding{allPrefix}, Request{bob, "h", OpWrite, ResourceTopic, "orders-eu"}, true},
		{"prefix does not match", Config{}, []Binding{allPrefix}, Request{bob, "h", OpWrite, ResourceTopic, "logs"}, false},
		{"deny wins over allow", Config{}, []Binding{allPrefix, denyBobHost}, Request{bob, "10.0.0.9", OpWrite, ResourceTopic, "orders"}, false},
		{"deny only from its host", Config{}, []Binding{allPrefix, denyBobHost}, Request{bob, "10.0.0.8", OpWrite, ResourceTopic, "orders"}, true},
		{"other resource type", Config{}, []Binding{readOrders}, Request{alice, "h", OpRead, ResourceGroup, "orders"}, false},
	}
	for _, tc := range cases {
		if got := Authorize(&tc.cfg, list(tc.bs...), tc.req); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	b := bind(ResourceTopic, "ord", PatternPrefixed, "User:a", "*", OpRead, PermissionAllow)
	name, other := "orders", "ord"
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{Type: ResourceAny, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}, true},
		{Filter{Type: ResourceTopic, Name: &name, Pattern: PatternMatch, Operation: OpAny, Permission: PermissionAny}, true},
		{Filter{Type: ResourceTopic, Name: &name, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}, false},
		{Filter{Type: ResourceTopic, Name: &other, Pattern: PatternPrefixed, Operation: OpRead, Permission: PermissionAllow}, true},
		{Filter{Type: ResourceTopic, Name: &other, Pattern: PatternLiteral, Operation: OpAny, Permission: PermissionAny}, false},
		{Filter{Type: ResourceGroup, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}, false},
	}
	for i, tc := range cases {
		if got := tc.f.Matches(b); got != tc.want {
			t.Errorf("case %d: %v, want %v", i, got, tc.want)
		}
	}
	for _, bad := range []Binding{
		bind(ResourceCluster, "x", PatternLiteral, "User:a", "*", OpAlter, PermissionAllow),
		bind(ResourceTopic, "t", PatternMatch, "User:a", "*", OpRead, PermissionAllow),
		bind(ResourceTopic, "t", PatternLiteral, "alice", "*", OpRead, PermissionAllow),
		bind(ResourceTopic, "t", PatternLiteral, "User:a", "", OpRead, PermissionAllow),
		bind(ResourceTopic, "t", PatternLiteral, "User:a", "*", OpAny, PermissionAllow),
	} {
		if bad.Validate() == "" {
			t.Errorf("%+v accepted", bad)
		}
	}
}
