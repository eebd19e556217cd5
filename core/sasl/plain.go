package sasl

import "strings"

// ParsePlain reads a PLAIN message (RFC 4616): an authorization identity, which must be
// empty or the user's own, the user and the password, separated by NUL bytes.
func ParsePlain(msg []byte) (user, password string, err error) {
	if len(msg) > UserBytesMax*2+PasswordBytesMax+2 {
		return "", "", malformed("PLAIN message too long")
	}
	parts := strings.Split(string(msg), "\x00")
	if len(parts) != 3 {
		return "", "", malformed("PLAIN wants authzid NUL user NUL password")
	}
	authz, user, password := parts[0], parts[1], parts[2]
	if user == "" || len(user) > UserBytesMax || password == "" || len(password) > PasswordBytesMax {
		return "", "", malformed("PLAIN user or password empty or too long")
	}
	if authz != "" && authz != user {
		return "", "", malformed("authorization identity differs from the user")
	}
	return user, password, nil
}

// PlainMessage is the client's PLAIN message.
func PlainMessage(user, password string) []byte {
	return []byte("\x00" + user + "\x00" + password)
}
