package docs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherModules are compiled files of the separate metrics modules, which
// the root module cannot import. A snippet that uses one of these packages
// is looked for in that module's files, which scripts/test.sh builds and
// tests.
var otherModules = map[string][]string{
	"promsession.": {"../metrics/prometheus/example/main.go", "../metrics/prometheus/example_test.go"},
	"otelsession.": {"../metrics/otel/example_test.go"},
}

// TestSnippetsCompiled checks that every ```go block of README.md and
// docs/*.md appears, line for line (each line trimmed of surrounding
// space), in a Go file that is compiled: this package's _test.go files,
// or for the metrics modules the files listed above. It also checks the
// other way: every "docs:begin" region of this package is shown in some
// document, so no compiled snippet is left behind when a guide changes.
func TestSnippetsCompiled(t *testing.T) {
	docs, err := filepath.Glob("*.md")
	require.NoError(t, err)
	docs = append([]string{"../README.md"}, docs...)
	goFiles, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	local := ""
	for _, f := range goFiles {
		local += "\n" + normalize(read(t, f)) + "\n"
	}

	shown := ""
	blocks := 0
	for _, doc := range docs {
		for _, b := range goBlocks(t, doc) {
			blocks++
			shown += "\n" + b.code + "\n"
			where, haystack := "docs/*_test.go", local
			for pkg, files := range otherModules {
				if strings.Contains(b.code, pkg) {
					where, haystack = strings.Join(files, ", "), ""
					for _, f := range files {
						haystack += "\n" + normalize(read(t, f)) + "\n"
					}
				}
			}
			assert.True(t, strings.Contains(haystack, "\n"+b.code+"\n"),
				"%s:%d: this ```go block is not in %s (copy it there verbatim, inside code that compiles):\n%s",
				doc, b.line, where, b.code)
		}
	}
	require.NotZero(t, blocks, "no ```go blocks found: wrong directory?")

	for _, f := range goFiles {
		for _, r := range regions(read(t, f)) {
			assert.True(t, strings.Contains(shown, "\n"+r.code+"\n"), "%s: snippet %q is not shown in README.md or docs/*.md", f, r.name)
		}
	}
}

type block struct {
	name, code string
	line       int
}

// goBlocks returns the ```go fenced blocks of a Markdown file, normalized.
func goBlocks(t *testing.T, path string) []block {
	var out []block
	var cur []string
	in, start := false, 0
	for i, l := range strings.Split(read(t, path), "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```go":
			in, start, cur = true, i+1, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			out = append(out, block{code: normalize(strings.Join(cur, "\n")), line: start})
		case in:
			cur = append(cur, l)
		}
	}
	assert.False(t, in, "%s:%d: unterminated ```go block", path, start)
	return out
}

// regions returns the text between "// docs:begin NAME" and "// docs:end".
func regions(src string) []block {
	var out []block
	var cur []string
	name := ""
	for _, l := range strings.Split(src, "\n") {
		tl := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(tl, "// docs:begin "):
			name, cur = strings.TrimPrefix(tl, "// docs:begin "), nil
		case tl == "// docs:end" && name != "":
			out = append(out, block{name: name, code: normalize(strings.Join(cur, "\n"))})
			name = ""
		case name != "":
			cur = append(cur, l)
		}
	}
	return out
}

// normalize trims every line and the whole text, so that indentation
// (a snippet inside a function body) does not matter but every character
// of every line does.
func normalize(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
