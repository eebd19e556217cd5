package partition

import (
	"reflect"
	"testing"
)

// Equal compares every field of State: changing any one of them, in a nested struct
// too, makes two states differ.
func TestStateEqualSeesEveryField(t *testing.T) {
	var fields func(v reflect.Value, path string, visit func(reflect.Value, string))
	fields = func(v reflect.Value, path string, visit func(reflect.Value, string)) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			if f.Kind() == reflect.Struct {
				fields(f, name+".", visit)
				continue
			}
			visit(f, name)
		}
	}
	n := 0
	fields(reflect.ValueOf(&State{}).Elem(), "", func(_ reflect.Value, name string) {
		var a, b State
		fields(reflect.ValueOf(&b).Elem(), "", func(f reflect.Value, other string) {
			if other != name {
				return
			}
			switch f.Kind() {
			case reflect.Slice:
				f.Set(reflect.Append(f, reflect.ValueOf(int32(1))))
			case reflect.Bool:
				f.SetBool(true)
			case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
				f.SetInt(1)
			case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				f.SetUint(1)
			case reflect.Float64:
				f.SetFloat(0.5)
			default:
				t.Fatalf("field %s: kind %s not covered by this test", name, f.Kind())
			}
		})
		n++
		if a.Equal(b) {
			t.Errorf("State.Equal does not see field %s", name)
		}
	})
	if n < 20 {
		t.Fatalf("only %d fields visited", n)
	}
	if !(State{ISR: []int32{1, 2}}).Equal(State{ISR: []int32{1, 2}}) {
		t.Fatal("equal states differ")
	}
}
