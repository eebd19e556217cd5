package metadata

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/seedlog/seedlog/core/enc"
)

// Client quota keys (Kafka's QuotaConfigs): two byte rates, and the share of a thread's
// time (in percent, so 200 is two threads) a client's requests may take.
const (
	QuotaProducerByteRate  = "producer_byte_rate"
	QuotaConsumerByteRate  = "consumer_byte_rate"
	QuotaRequestPercentage = "request_percentage"
)

// Bounds of the client quotas.
const (
	// QuotaEntitiesMax bounds the entities that have at least one quota.
	QuotaEntitiesMax = 10_000
	// QuotaNameBytesMax bounds a user name or client id of a quota entity.
	QuotaNameBytesMax = 1024
	// quotaRateMax keeps byte rates whole numbers a float64 holds exactly.
	quotaRateMax = 1 << 53
)

// QuotaEntity is what a client quota applies to: a user, a client id, or both (Kafka's
// entity types "user" and "client-id"). A present name "" is the default entity of its
// type (Kafka's <default>, a null name on the wire).
type QuotaEntity struct {
	HasUser     bool
	User        string
	HasClientID bool
	ClientID    string
}

func (e QuotaEntity) String() string {
	name := func(s string) string {
		if s == "" {
			return "<default>"
		}
		return s
	}
	var parts []string
	if e.HasUser {
		parts = append(parts, "user="+name(e.User))
	}
	if e.HasClientID {
		parts = append(parts, "client-id="+name(e.ClientID))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ValidQuotaKey reports whether key is one of the three quota keys.
func ValidQuotaKey(key string) bool {
	switch key {
	case QuotaProducerByteRate, QuotaConsumerByteRate, QuotaRequestPercentage:
		return true
	}
	return false
}

// ValidQuotaEntity explains why e cannot hold quotas, or returns "".
func ValidQuotaEntity(e QuotaEntity) string {
	if !e.HasUser && !e.HasClientID {
		return "an entity names a user, a client id or both"
	}
	for _, n := range []struct {
		has  bool
		name string
	}{{e.HasUser, e.User}, {e.HasClientID, e.ClientID}} {
		if !n.has {
			if n.name != "" {
				return "a name for an absent entity type"
			}
			continue
		}
		if len(n.name) > QuotaNameBytesMax || !utf8.ValidString(n.name) {
			return fmt.Sprintf("entity name of %d bytes, or not UTF-8", len(n.name))
		}
		if strings.IndexFunc(n.name, unicode.IsControl) >= 0 {
			return fmt.Sprintf("entity name %q holds a control character", n.name)
		}
	}
	return ""
}

// ValidQuotaValue explains why value cannot be the quota of key, or returns "".
func ValidQuotaValue(key string, value float64) string {
	if math.IsNaN(value) || math.IsInf(value, 0) || value <= 0 {
		return fmt.Sprintf("%s must be a positive finite number, not %v", key, value)
	}
	if key != QuotaRequestPercentage && (value != math.Trunc(value) || value > quotaRateMax) {
		return fmt.Sprintf("%s must be a whole number of bytes per second up to 2^53, not %v", key, value)
	}
	return ""
}

// ClientQuota sets, or with Remove deletes, one quota of an entity.
type ClientQuota struct {
	Entity QuotaEntity
	Key    string
	Value  float64
	Remove bool
}

func (ClientQuota) Kind() Kind { return KindClientQuota }
func (ClientQuota) isRecord()  {}

func validateClientQuota(im *Image, r ClientQuota) error {
	if why := ValidQuotaEntity(r.Entity); why != "" {
		return fmt.Errorf("%s", why)
	}
	if !ValidQuotaKey(r.Key) {
		return fmt.Errorf("unknown quota key %q", r.Key)
	}
	_, has := im.quotas[r.Entity][r.Key]
	if r.Remove {
		if !has || r.Value != 0 {
			return fmt.Errorf("removal of %s of %s, which is not set, or with a value", r.Key, r.Entity)
		}
		return nil
	}
	if why := ValidQuotaValue(r.Key, r.Value); why != "" {
		return fmt.Errorf("%s", why)
	}
	if _, ok := im.quotas[r.Entity]; !ok && len(im.quotas) >= QuotaEntitiesMax {
		return fmt.Errorf("already %d quota entities", len(im.quotas))
	}
	return nil
}

// setQuota applies r to the builder's image; r is valid.
func (b *builder) setQuota(r ClientQuota) {
	if !b.ownQuotas {
		b.im.quotas = cloneMap(b.im.quotas)
		b.ownQuotas = true
	}
	keys := cloneMap(b.im.quotas[r.Entity])
	if r.Remove {
		delete(keys, r.Key)
	} else {
		keys[r.Key] = r.Value
	}
	if len(keys) == 0 {
		delete(b.im.quotas, r.Entity)
	} else {
		b.im.quotas[r.Entity] = keys
	}
}

// QuotaEntityCount is the number of entities with at least one quota: zero means no
// client is throttled.
func (im Image) QuotaEntityCount() int { return len(im.quotas) }

// ClientQuota returns entity e's quota key.
func (im Image) ClientQuota(e QuotaEntity, key string) (float64, bool) {
	v, ok := im.quotas[e][key]
	return v, ok
}

// QuotaEntry is one key of an entity's quotas.
type QuotaEntry struct {
	Key   string
	Value float64
}

// ClientQuotas returns entity e's quotas, sorted by key.
func (im Image) ClientQuotas(e QuotaEntity) []QuotaEntry {
	m := im.quotas[e]
	out := make([]QuotaEntry, 0, len(m))
	// order-independent: sorted right after.
	for k, v := range m {
		out = append(out, QuotaEntry{k, v})
	}
	slices.SortFunc(out, func(a, b QuotaEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// QuotaEntities lists the entities with quotas, sorted (CompareQuotaEntities).
func (im Image) QuotaEntities() []QuotaEntity {
	out := make([]QuotaEntity, 0, len(im.quotas))
	// order-independent: sorted right after.
	for e := range im.quotas {
		out = append(out, e)
	}
	slices.SortFunc(out, CompareQuotaEntities)
	return out
}

// CompareQuotaEntities orders entities by user (absent first), then client id.
func CompareQuotaEntities(a, b QuotaEntity) int {
	if c := cmpBool(a.HasUser, b.HasUser); c != 0 {
		return c
	}
	if c := strings.Compare(a.User, b.User); c != 0 {
		return c
	}
	if c := cmpBool(a.HasClientID, b.HasClientID); c != 0 {
		return c
	}
	return strings.Compare(a.ClientID, b.ClientID)
}

func cmpBool(a, b bool) int {
	x, y := 0, 0
	if a {
		x = 1
	}
	if b {
		y = 1
	}
	return cmp.Compare(x, y)
}

// putQuotaEntity writes flags u8 (1: user, 2: client id), user, client id.
func putQuotaEntity(w *enc.Writer, e QuotaEntity) {
	var flags uint8
	if e.HasUser {
		flags |= 1
	}
	if e.HasClientID {
		flags |= 2
	}
	w.U8(flags)
	w.String(e.User)
	w.String(e.ClientID)
}

func getQuotaEntity(r *enc.Reader) QuotaEntity {
	flags := r.U8()
	if flags > 3 {
		r.Fail(fmt.Errorf("quota entity flags %#x", flags))
	}
	return QuotaEntity{HasUser: flags&1 != 0, User: r.String(), HasClientID: flags&2 != 0, ClientID: r.String()}
}

// getQuotaValue reads a float64 and refuses NaN, whose bits would not survive a round
// trip through comparisons.
func getQuotaValue(r *enc.Reader) float64 {
	v := math.Float64frombits(r.U64())
	if math.IsNaN(v) {
		r.Fail(fmt.Errorf("NaN quota value"))
	}
	return v
}

func putClientQuota(w *enc.Writer, r ClientQuota) {
	putQuotaEntity(w, r.Entity)
	w.String(r.Key)
	w.U64(math.Float64bits(r.Value))
	w.Bool(r.Remove)
}

func getClientQuota(r *enc.Reader) ClientQuota {
	return ClientQuota{Entity: getQuotaEntity(r), Key: r.String(), Value: getQuotaValue(r), Remove: r.Bool()}
}

// quotaBytesMin is the smallest encoding of one entity in a snapshot.
const quotaBytesMin = 1 + 1 + 1 + 1

// putQuotas writes the quotas section of a snapshot: entities in CompareQuotaEntities
// order, each with its keys sorted (key, value as float64 bits).
func putQuotas(w *enc.Writer, im Image) {
	es := im.QuotaEntities()
	w.Len(len(es))
	for _, e := range es {
		putQuotaEntity(w, e)
		entries := im.ClientQuotas(e)
		w.Len(len(entries))
		for _, q := range entries {
			w.String(q.Key)
			w.U64(math.Float64bits(q.Value))
		}
	}
}

func decodeQuotas(r *enc.Reader, im *Image) error {
	n := r.Len(quotaBytesMin)
	var prev QuotaEntity
	for i := 0; i < n && r.Err() == nil; i++ {
		e := getQuotaEntity(r)
		if i > 0 && r.Err() == nil && CompareQuotaEntities(e, prev) <= 0 {
			return fmt.Errorf("quota entity %s out of order", e)
		}
		prev = e
		k := r.Len(1 + 8)
		if r.Err() == nil && k == 0 {
			return fmt.Errorf("quota entity %s without quotas", e)
		}
		prevKey := ""
		for j := 0; j < k && r.Err() == nil; j++ {
			rec := ClientQuota{Entity: e, Key: r.String(), Value: getQuotaValue(r)}
			if r.Err() != nil {
				break
			}
			if j > 0 && rec.Key <= prevKey {
				return fmt.Errorf("quota key %q of %s out of order", rec.Key, e)
			}
			prevKey = rec.Key
			if err := validateClientQuota(im, rec); err != nil {
				return err
			}
			if im.quotas == nil {
				im.quotas = map[QuotaEntity]map[string]float64{}
			}
			if im.quotas[e] == nil {
				im.quotas[e] = map[string]float64{}
			}
			im.quotas[e][rec.Key] = rec.Value
		}
	}
	return nil
}

// Kafka's quota entity types.
const (
	QuotaTypeUser     = "user"
	QuotaTypeClientID = "client-id"
)

// QuotaEntityPart is one (type, name) of an entity as the wire spells it: a nil name is
// the default entity of its type.
type QuotaEntityPart struct {
	Type string
	Name *string
}

// ParseQuotaEntity builds an entity from its parts with Kafka's rules: each type once,
// "user", "client-id" or both ("ip" quotas are not supported), a present name not
// empty. It explains a refusal, or returns "".
func ParseQuotaEntity(parts []QuotaEntityPart) (QuotaEntity, string) {
	var e QuotaEntity
	if len(parts) == 0 {
		return e, "an empty quota entity"
	}
	for _, p := range parts {
		name := ""
		if p.Name != nil {
			if *p.Name == "" {
				return e, fmt.Sprintf("an empty %s name; the default entity has a null name", p.Type)
			}
			name = *p.Name
		}
		switch p.Type {
		case QuotaTypeUser:
			if e.HasUser {
				return e, "duplicate user in the entity"
			}
			e.HasUser, e.User = true, name
		case QuotaTypeClientID:
			if e.HasClientID {
				return e, "duplicate client-id in the entity"
			}
			e.HasClientID, e.ClientID = true, name
		default:
			return e, fmt.Sprintf("unsupported quota entity type %q", p.Type)
		}
	}
	if why := ValidQuotaEntity(e); why != "" {
		return e, why
	}
	return e, ""
}

// Parts is e as the wire spells it: user first, then client id, a default as a nil
// name.
func (e QuotaEntity) Parts() []QuotaEntityPart {
	var out []QuotaEntityPart
	name := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	if e.HasUser {
		out = append(out, QuotaEntityPart{QuotaTypeUser, name(e.User)})
	}
	if e.HasClientID {
		out = append(out, QuotaEntityPart{QuotaTypeClientID, name(e.ClientID)})
	}
	return out
}
