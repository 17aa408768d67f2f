package console

import (
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("a long admin password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(h), "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash %q is not the expected PHC string", h)
	}
	if !CheckPassword(h, "a long admin password") {
		t.Error("CheckPassword refused the right password")
	}
	if CheckPassword(h, "a long admin passworD") {
		t.Error("CheckPassword accepted a wrong password")
	}
	if a, b := hashPassword("pw", cheapArgon), hashPassword("pw", cheapArgon); string(a) == string(b) {
		t.Error("two hashes of one password are equal: no salt?")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword accepted a short password")
	}
	if _, err := HashPassword(strings.Repeat("x", MaxAdminPassword+1)); err == nil {
		t.Error("HashPassword accepted a huge password")
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good := string(hashPassword("secret password", cheapArgon))
	if !CheckPassword([]byte(good), "secret password") {
		t.Fatal("cheap hash does not verify")
	}
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"",
		"secret password",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 TiB
		"$argon2id$v=19$m=64,t=1000000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		"$2a$10$abcdefghijklmnopqrstuv", // bcrypt: not accepted
		good + "$",
	} {
		if CheckPassword([]byte(h), "secret password") {
			t.Errorf("CheckPassword(%q) = true", h)
		}
	}
	if CheckPassword([]byte(good), strings.Repeat("x", MaxAdminPassword+1)) {
		t.Error("CheckPassword accepted a huge password")
	}
}
