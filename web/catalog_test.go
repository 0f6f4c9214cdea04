package web

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// catalogs are the languages every page ships; en is the reference.
var catalogs = []string{"en", "zh-Hans", "zh-Hant", "ar"}

// readCatalog decodes one flat catalog, failing on a duplicate key (which
// encoding/json would silently resolve to the last value).
func readCatalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	raw, err := fs.ReadFile(embedded, "static/i18n/"+lang+".json")
	if err != nil {
		t.Fatalf("catalog %s: %v", lang, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("catalog %s: not a JSON object", lang)
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("catalog %s: %v", lang, err)
		}
		key := tok.(string)
		var value string
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("catalog %s: key %q: value is not a string: %v", lang, key, err)
		}
		if _, dup := out[key]; dup {
			t.Errorf("catalog %s: key %q appears twice", lang, key)
		}
		out[key] = value
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("catalog %s: %v", lang, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("catalog %s: data after the object", lang)
	}
	return out
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestCatalogsMatchEnglish(t *testing.T) {
	en := readCatalog(t, "en")
	if len(en) == 0 {
		t.Fatal("en.json is empty")
	}
	for _, lang := range catalogs {
		t.Run(lang, func(t *testing.T) {
			cat := readCatalog(t, lang)
			for key, want := range en {
				got, ok := cat[key]
				if !ok {
					t.Errorf("missing key %q", key)
					continue
				}
				if strings.TrimSpace(got) == "" {
					t.Errorf("key %q is empty", key)
				}
				if p, q := placeholders(got), placeholders(want); !slices.Equal(p, q) {
					t.Errorf("key %q has placeholders %v, en has %v", key, p, q)
				}
			}
			for key := range cat {
				if _, ok := en[key]; !ok {
					t.Errorf("extra key %q (not in en.json)", key)
				}
			}
		})
	}
}

// i18nAttr finds the catalog keys the HTML refers to.
var i18nAttr = regexp.MustCompile(`data-i18n(?:-aria-label|-placeholder)?="([^"]*)"`)

func TestHTMLKeysExist(t *testing.T) {
	en := readCatalog(t, "en")
	pages, err := fs.Glob(embedded, "static/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no HTML pages found: %v", err)
	}
	for _, page := range pages {
		raw, err := fs.ReadFile(embedded, page)
		if err != nil {
			t.Fatal(err)
		}
		matches := i18nAttr.FindAllStringSubmatch(string(raw), -1)
		if len(matches) == 0 {
			t.Errorf("%s: no data-i18n attributes", page)
		}
		for _, m := range matches {
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s: data-i18n key %q is not in en.json", page, m[1])
			}
		}
		if !strings.Contains(string(raw), `id="lang"`) {
			t.Errorf("%s: no language switcher (select#lang)", page)
		}
	}
}

// scriptKey finds string literals in the scripts that look like catalog
// keys, e.g. 'status.joined'. Keys built at run time (`error.${code}`)
// are not matched; TestServerErrorCodes covers those.
var scriptKey = regexp.MustCompile(`['"]((?:app|lang|start|call|controls|left|tile|status|error|chat|thread|console|login|admin|staff|widget|common|event)(?:\.[a-z0-9_]+)+)['"]`)

func TestScriptKeysExist(t *testing.T) {
	en := readCatalog(t, "en")
	scripts, err := fs.Glob(embedded, "static/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	for _, script := range scripts {
		raw, err := fs.ReadFile(embedded, script)
		if err != nil {
			t.Fatal(err)
		}
		src := string(raw)
		for _, m := range scriptKey.FindAllStringSubmatchIndex(src, -1) {
			key := src[m[2]:m[3]]
			// A property name ('call.started': …) is a timeline event
			// type mapped to a key, not a key itself.
			if strings.HasPrefix(strings.TrimLeft(src[m[1]:], " "), ":") {
				continue
			}
			if _, ok := en[key]; !ok {
				t.Errorf("%s: key %q is not in en.json", path.Base(script), key)
			}
		}
	}
}

// TestServerErrorCodes reads the error codes the server can send from
// signaling/messages.go (by parsing it, so web does not import signaling)
// and checks each has a translated message.
func TestServerErrorCodes(t *testing.T) {
	codes, err := serverErrorCodes("../signaling/messages.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) == 0 {
		t.Fatal("no Code* constants found in signaling/messages.go")
	}
	en := readCatalog(t, "en")
	for _, code := range codes {
		if _, ok := en["error."+code]; !ok {
			t.Errorf("server error code %q has no key error.%s in en.json", code, code)
		}
	}
	for _, key := range []string{"error.generic", "error.bye"} {
		if _, ok := en[key]; !ok {
			t.Errorf("en.json lacks %s", key)
		}
	}
}

func serverErrorCodes(file string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Code") || i >= len(spec.Values) {
				continue
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					codes = append(codes, v)
				}
			}
		}
		return true
	})
	return codes, nil
}

// TestEveryKeyUsed finds catalog entries nothing shows any more, so the
// catalogs do not fill up with words translators keep paying for. Keys
// under error. are built at run time from the server's codes
// (TestServerErrorCodes checks those).
func TestEveryKeyUsed(t *testing.T) {
	var src strings.Builder
	for _, pattern := range []string{"static/*.html", "static/*.js"} {
		files, err := fs.Glob(embedded, pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			raw, err := fs.ReadFile(embedded, f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(raw)
		}
	}
	all := src.String()
	for key := range readCatalog(t, "en") {
		if strings.HasPrefix(key, "error.") {
			continue
		}
		if !strings.Contains(all, `"`+key+`"`) && !strings.Contains(all, `'`+key+`'`) {
			t.Errorf("catalog key %q is used by no page or script", key)
		}
	}
}

// sameInEveryLanguage are the entries a translation may copy from English:
// product names, an abbreviation, and a pattern with no words in it.
var sameInEveryLanguage = map[string]bool{
	"console.channel.sms":      true,
	"console.channel.whatsapp": true,
	"console.channel.api":      true,
	"chat.announce_message":    true,
	"console.announce_message": true,
}

// TestCatalogsTranslated catches an English sentence pasted into another
// catalog to make TestCatalogsMatchEnglish pass: a reader of Arabic or
// Chinese would meet it untranslated.
func TestCatalogsTranslated(t *testing.T) {
	en := readCatalog(t, "en")
	for _, lang := range catalogs {
		if lang == "en" {
			continue
		}
		cat := readCatalog(t, lang)
		for key, value := range cat {
			if value == en[key] && !sameInEveryLanguage[key] {
				t.Errorf("%s: key %q is still in English: %q", lang, key, value)
			}
		}
	}
}

var (
	// Elements whose content is not text for people: code, icons, and
	// technical identifiers shown as <code>.
	notText = regexp.MustCompile(`(?s)<!--.*?-->|<(script|style|svg|code)\b[^>]*>.*?</(script|style|svg|code)>`)
	textRun = regexp.MustCompile(`>([^<]+)<`)
	// Words in an attribute a person sees or hears.
	wordAttr = regexp.MustCompile(`\s(aria-label|placeholder|title|alt)="([^"]*)"`)
)

// TestHTMLTextFromCatalogs: the pages hold no words of their own, so
// nothing stays in English when the language changes. Text comes from
// data-i18n*; only numbers (the counters' initial 0) may be literal.
func TestHTMLTextFromCatalogs(t *testing.T) {
	pages, err := fs.Glob(embedded, "static/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no HTML pages found: %v", err)
	}
	digits := regexp.MustCompile(`^[0-9]*$`)
	urlOnly := regexp.MustCompile(`^[a-z]+://\S*$`)
	for _, page := range pages {
		raw, err := fs.ReadFile(embedded, page)
		if err != nil {
			t.Fatal(err)
		}
		src := notText.ReplaceAllString(string(raw), "")
		for _, m := range textRun.FindAllStringSubmatch(src, -1) {
			if text := strings.TrimSpace(m[1]); !digits.MatchString(text) {
				t.Errorf("%s: literal text %q; use data-i18n and a catalog key", path.Base(page), text)
			}
		}
		for _, m := range wordAttr.FindAllStringSubmatch(src, -1) {
			// A bare address ("https://") reads the same in every language.
			if v := strings.TrimSpace(m[2]); v != "" && !urlOnly.MatchString(v) {
				t.Errorf("%s: literal %s=%q; use data-i18n-%s", path.Base(page), m[1], m[2], m[1])
			}
		}
	}
}
