package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file holds the strict decoder: it walks a yaml.Node tree into Go
// structs by reflection, using the `yaml` struct tag for key names and a `cm`
// tag for extras ("required"; "key" on a struct inside a map receives the
// map key). Unlike yaml.Unmarshal it reports every problem with the
// position of the node at fault, and it never stops at the first one.

// nodeDecoder is implemented by types that decode themselves from a node.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node)
}

// describer gives a type's wording in "expected ..." messages.
type describer interface {
	describe() (one, many string)
}

// positions records where each key's value (and each element of a list
// value, as "key[i]") stood. Structs embed it; the decoder fills it.
type positions struct {
	pos map[string]Pos
}

func (p *positions) setPositions(m map[string]Pos) { p.pos = m }

// has reports whether key was written in the file.
func (p positions) has(key string) bool {
	_, ok := p.pos[key]
	return ok
}

// at is the position of key's value, or def when absent.
func (p positions) at(key string, def Pos) Pos {
	if q, ok := p.pos[key]; ok {
		return q
	}
	return def
}

// elem is the position of element i of key's list value, or of the key.
func (p positions) elem(key string, i int, def Pos) Pos {
	if q, ok := p.pos[key+"["+strconv.Itoa(i)+"]"]; ok {
		return q
	}
	return p.at(key, def)
}

type positionSetter interface{ setPositions(map[string]Pos) }

// dropPositions clears every positions map under v once validation no
// longer needs them: a loaded file stays small for the garbage collector.
func dropPositions(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			dropPositions(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			dropPositions(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			dropPositions(it.Value())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Location]() {
			return
		}
		if v.CanAddr() {
			if ps, ok := v.Addr().Interface().(positionSetter); ok {
				ps.setPositions(nil)
			}
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				dropPositions(v.Field(i))
			}
		}
	}
}

type decoder struct {
	errs
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.at(posOf(n), format, args...)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// got describes a node for "expected X, got Y" messages.
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!int":
			return "the number " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

var (
	nodeDecoderType    = reflect.TypeFor[nodeDecoder]()
	describerType      = reflect.TypeFor[describer]()
	posType            = reflect.TypeFor[Pos]()
	positionSetterType = reflect.TypeFor[positionSetter]()
)

// describeType returns how a type is named in messages, singular and plural.
func describeType(t reflect.Type) (string, string) {
	if reflect.PointerTo(t).Implements(describerType) {
		return reflect.New(t).Interface().(describer).describe()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string", "strings"
	case reflect.Bool:
		return "true or false", "booleans"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer", "integers"
	case reflect.Slice:
		_, many := describeType(t.Elem())
		return "a list of " + many, "lists"
	case reflect.Map, reflect.Struct:
		return "a mapping", "mappings"
	}
	return "a " + t.String(), t.String() + "s"
}

func (d *decoder) expected(n *yaml.Node, t reflect.Type) {
	one, _ := describeType(t)
	d.errorf(n, "expected %s, got %s", one, got(n))
}

// decode decodes n into v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	n = deref(n)
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem())
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.expected(n, v.Type())
			return
		}
		if isNull(n) {
			v.SetString("")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.expected(n, v.Type())
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.expected(n, v.Type())
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.expected(n, v.Type())
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
			d.errorf(n, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		if isNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.expected(n, v.Type())
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			v.SetZero()
			return
		}
		if n.Kind != yaml.MappingNode {
			d.expected(n, v.Type())
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("config: map keys must be strings")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		d.eachPair(n, func(k, val *yaml.Node) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, e)
			d.setKey(e, k)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		})
		v.Set(m)
	case reflect.Struct:
		d.decodeStruct(n, v)
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
}

// setKey gives a struct stored in a map its key (field tagged cm:"key") and
// the key's position as its Pos.
func (d *decoder) setKey(e reflect.Value, k *yaml.Node) {
	for e.Kind() == reflect.Pointer {
		if e.IsNil() {
			return
		}
		e = e.Elem()
	}
	if e.Kind() != reflect.Struct {
		return
	}
	info := structInfoOf(e.Type())
	if info.keyField >= 0 {
		e.Field(info.keyField).SetString(k.Value)
	}
	if info.posField >= 0 {
		e.Field(info.posField).Set(reflect.ValueOf(posOf(k)))
	}
}

// eachPair calls f for each key/value of a mapping, reporting keys that are
// not plain strings and duplicate keys (the duplicate is skipped).
func (d *decoder) eachPair(n *yaml.Node, f func(k, v *yaml.Node)) {
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, "expected a name as key, got %s", got(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		f(k, v)
	}
}

type fieldInfo struct {
	name     string
	index    int
	required bool
}

type structInfo struct {
	fields   []fieldInfo
	byName   map[string]int // into fields
	names    []string       // allowed keys in declaration order
	keyField int
	posField int
}

var structInfos sync.Map // reflect.Type -> *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{byName: map[string]int{}, keyField: -1, posField: -1}
	for i := range t.NumField() {
		f := t.Field(i)
		cm := f.Tag.Get("cm")
		if cm == "key" {
			info.keyField = i
			continue
		}
		if f.Name == "Pos" && f.Type == posType {
			info.posField = i
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		info.byName[name] = len(info.fields)
		info.fields = append(info.fields, fieldInfo{name: name, index: i, required: cm == "required"})
		info.names = append(info.names, name)
	}
	v, _ := structInfos.LoadOrStore(t, info)
	return v.(*structInfo)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	info := structInfoOf(v.Type())
	if info.posField >= 0 {
		v.Field(info.posField).Set(reflect.ValueOf(posOf(n)))
	}
	if isNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	}
	if n.Kind != yaml.MappingNode {
		d.expected(n, v.Type())
		return
	}
	pos := make(map[string]Pos, len(n.Content)/2)
	d.eachPair(n, func(k, val *yaml.Node) {
		fi, ok := info.byName[k.Value]
		if !ok {
			d.errorf(k, "unknown key %q%s; allowed: %s", k.Value, suggest(k.Value, info.names), strings.Join(info.names, ", "))
			return
		}
		f := info.fields[fi]
		if f.required && isNull(deref(val)) {
			d.errorf(val, "%q needs a value", k.Value)
		}
		pos[k.Value] = posOf(val)
		if dv := deref(val); dv.Kind == yaml.SequenceNode {
			for i, c := range dv.Content {
				pos[k.Value+"["+strconv.Itoa(i)+"]"] = posOf(c)
			}
		}
		d.decode(val, v.Field(f.index))
		// A nested struct literal without positions of its own (log, http)
		// leaves them here as "key.sub".
		if fv := v.Field(f.index); fv.Kind() == reflect.Struct && !reflect.PointerTo(fv.Type()).Implements(positionSetterType) {
			if dv := deref(val); dv.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(dv.Content); i += 2 {
					pos[k.Value+"."+dv.Content[i].Value] = posOf(dv.Content[i+1])
				}
			}
		}
	})
	for _, f := range info.fields {
		if _, ok := pos[f.name]; !ok && f.required {
			d.errorf(n, "missing required key %q", f.name)
		}
	}
	if v.CanAddr() {
		if ps, ok := v.Addr().Interface().(positionSetter); ok {
			ps.setPositions(pos)
		}
	}
}

// scalar returns n's value when it is a non-null scalar, else reports it.
func (d *decoder) scalar(n *yaml.Node, want string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "expected %s, got %s", want, got(n))
		return "", false
	}
	return n.Value, true
}

// parseDocument parses data into the root mapping of a single YAML
// document. Syntax errors come back positioned.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the file is empty"}}
		}
		return nil, syntaxError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document (---) is not allowed here"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, data, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the file is empty"}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{File: file, Line: root.Line, Col: root.Column, Msg: "expected a mapping of keys at the top, got " + got(root)}}
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error, which carries only a line (and
// for some problems the line of the enclosing construct), into a positioned
// Error. The column is found by parsing ever longer prefixes of the input:
// the shortest prefix that already fails with the same message ends at the
// character that caused it.
func syntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	line := 1
	text := strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		text = m[2]
	}
	pos := Pos{Line: line, Col: 1}
	if off, ok := failingOffset(data, msg); ok {
		pos = offsetPos(data, off)
	}
	return Errors{{File: file, Line: pos.Line, Col: pos.Col, Msg: "YAML syntax: " + text + syntaxHint(text, lineAt(data, pos.Line))}}
}

// lineAt returns line n (1-based) of data, without its line break.
func lineAt(data []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return ""
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return string(data)
}

// syntaxHint names the usual cause of YAML's terse messages: indentation.
func syntaxHint(text, line string) string {
	indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	switch {
	case strings.Contains(indent, "\t"):
		return " (a tab in the indentation: YAML indents with spaces only)"
	case strings.Contains(text, "did not find expected '-' indicator"),
		strings.Contains(text, "did not find expected key"),
		strings.Contains(text, "block sequence entries are not allowed"),
		strings.Contains(text, "mapping values are not allowed in this context"),
		strings.Contains(text, "did not find expected node content"):
		return " (check the indentation here and on the line above: the entries of one list or mapping" +
			" start in the same column, deeper levels further right, spaces only)"
	}
	return ""
}

func failsWith(data []byte, msg string) bool {
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		return err.Error() == msg
	}
}

// failingOffset finds the smallest k such that data[:k] fails with msg, by
// bisection; k-1 is then the offending byte.
func failingOffset(data []byte, msg string) (int, bool) {
	lo, hi := 0, len(data) // data[:hi] fails with msg; data[:lo] does not
	if !failsWith(data, msg) {
		return 0, false
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if failsWith(data[:mid], msg) {
			hi = mid
		} else {
			lo = mid
		}
	}
	off := hi - 1
	// Step back to the start of a multi-byte character.
	for off > 0 && !utf8.RuneStart(data[off]) {
		off--
	}
	return off, true
}

// offsetPos converts a byte offset into a 1-based line and character column.
func offsetPos(data []byte, off int) Pos {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	// A problem found at a line break belongs to the end of that line.
	return Pos{Line: line, Col: utf8.RuneCount(data[start:off]) + 1}
}

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (not
// keys) of the tree. Expanding after parsing keeps positions exact and
// means a variable can never inject YAML structure. "$${" stands for a
// literal "${".
func expandEnv(d *decoder, src []byte, n *yaml.Node, env func(string) (string, bool)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			expandEnv(d, src, c, env)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expandEnv(d, src, n.Content[i], env)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, ok := expandString(n.Value, env, func(name string, msg string) {
			d.at(varPos(src, n, name), "%s", msg)
		})
		if !ok {
			return
		}
		n.Value = out
		if n.Style == 0 || n.Style == yaml.TaggedStyle {
			// A plain scalar is typed after expansion: port: ${PORT} is a number.
			var r yaml.Node
			if yaml.Unmarshal([]byte(out), &r) == nil && len(r.Content) == 1 && r.Content[0].Kind == yaml.ScalarNode {
				n.Tag = r.Content[0].Tag
			} else {
				n.Tag = "!!str"
			}
		}
	}
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func expandString(s string, env func(string) (string, bool), fail func(name, msg string)) (string, bool) {
	var b strings.Builder
	ok := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			fail("", "unclosed ${ in value")
			return "", false
		}
		expr := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !varNameRE.MatchString(name) {
			fail(name, fmt.Sprintf("bad variable name %q in ${...}", name))
			ok = false
			continue
		}
		val, set := env(name)
		switch {
		case set && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			fail(name, fmt.Sprintf("environment variable %s is not set (write ${%s:-} to allow it empty)", name, name))
			ok = false
		}
	}
	return b.String(), ok
}

// varPos finds "${NAME" on the scalar's source line, falling back to the
// scalar's own position.
func varPos(src []byte, n *yaml.Node, name string) Pos {
	lines := bytes.Split(src, []byte{'\n'})
	p := posOf(n)
	if n.Line < 1 || n.Line > len(lines) {
		return p
	}
	line := string(lines[n.Line-1])
	col := n.Column - 1
	runes := []rune(line)
	if col < 0 || col > len(runes) {
		return p
	}
	if i := strings.Index(string(runes[col:]), "${"+name); i >= 0 {
		return Pos{Line: n.Line, Col: n.Column + utf8.RuneCountInString(string(runes[col:])[:i])}
	}
	return p
}
