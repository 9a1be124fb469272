package textenc

import "testing"

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", `a\b`: `a\\b`, "a\nb": `a\nb`, `a"b`: `a\"b`, "": "",
	} {
		if got := string(AppendEscaped(nil, in, true)); got != want {
			t.Errorf("AppendEscaped(%q) = %q, want %q", in, got, want)
		}
	}
	if got := string(AppendEscaped(nil, `a"b`, false)); got != `a"b` {
		t.Errorf("help text: quotes escaped: %q", got)
	}
}
