//! A JSON reader with Go `encoding/json` semantics that keeps the byte position of every value.
//!
//! Ignition decodes configs with Go's `encoding/json`; reproducing its verdicts means rejecting
//! exactly what Go's scanner rejects, with its messages and error offsets, decoding strings the way
//! Go does (invalid UTF-8 and lone surrogates become U+FFFD), and remembering where each value
//! starts so that validation findings can be given a line and column.

/// One JSON value and where it is in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Byte index of the value as upstream's position tree records it: the first byte of a
    /// literal, the byte after the opening bracket of an object or array.
    pub start: usize,
    /// Byte index just past the value's last byte.
    pub end: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The literal as written; Go decides per target type how to read it.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in input order, duplicates kept.
    Object(Vec<Member>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    /// Byte index of the key's opening quote.
    pub key_start: usize,
    pub value: Node,
}

/// A syntax error as Go reports it: the message and the offset after which it occurred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

/// Go's limit on nesting (`exceeded max depth`).
const MAX_DEPTH: usize = 10_000;

/// Deeper than any config schema goes: containers below this depth are kept empty (with their
/// kind and position), which keeps recursion and memory bounded on hostile input.
const TREE_DEPTH: usize = 64;

impl Value {
    /// The word Go uses for this kind of value in type errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

impl Node {
    /// The member with exactly this key; the last one when the key is duplicated (as upstream's
    /// position tree, a Go map, keeps it).
    pub fn get(&self, key: &str) -> Option<&Member> {
        match &self.value {
            Value::Object(members) => members.iter().rev().find(|m| m.key == key),
            _ => None,
        }
    }
}

/// Parse a whole document: one value, optional surrounding whitespace, nothing else.
pub fn parse(input: &[u8]) -> Result<Node, SyntaxError> {
    // Go validates the whole input before decoding anything, so syntax errors win over everything.
    check_syntax(input)?;
    let mut reader = Reader {
        input,
        pos: 0,
        depth: 0,
    };
    reader.skip_space();
    Ok(reader.value())
}

/// Whether Go would decode this (syntactically valid) document into `any`: every number must
/// fit a float64 (an overflowing literal such as `1e400` is a type error there).
pub fn decodes_as_any(input: &[u8]) -> bool {
    if check_syntax(input).is_err() {
        return false;
    }
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'"' => {
                i += 1;
                while i < input.len() && input[i] != b'"' {
                    i += if input[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < input.len()
                    && matches!(input[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let literal = std::str::from_utf8(&input[start..i]).unwrap_or("");
                if !literal.parse::<f64>().is_ok_and(f64::is_finite) {
                    return false;
                }
            }
            _ => i += 1,
        }
    }
    true
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: how the scanner names an offending byte.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        _ => format!("'{}'", go_quote_rune(char::from(c))),
    }
}

/// The inside of Go's `strconv.Quote` for one rune from U+0000 to U+00FF.
fn go_quote_rune(c: char) -> String {
    match c {
        '\u{7}' => r"\a".into(),
        '\u{8}' => r"\b".into(),
        '\u{c}' => r"\f".into(),
        '\n' => r"\n".into(),
        '\r' => r"\r".into(),
        '\t' => r"\t".into(),
        '\u{b}' => r"\v".into(),
        '\\' => r"\\".into(),
        '"' => "\\\"".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!(r"\x{:02x}", c as u32),
        // Latin-1 controls, no-break space and soft hyphen are not printable for Go.
        c if (0x80..=0xa0).contains(&(c as u32)) || c as u32 == 0xad => {
            format!(r"\u{:04x}", c as u32)
        }
        c => c.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    ObjectKey,
    ObjectValue,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    InStringEscU(u8),
    Neg,
    Digits1,
    Zero,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    /// Inside `true`/`false`/`null`: the literal and how many bytes of it were seen.
    Literal(&'static [u8], usize),
}

/// Go's scanner (`checkValid`), state for state, so the same inputs fail with the same message
/// at the same offset.
fn check_syntax(input: &[u8]) -> Result<(), SyntaxError> {
    let mut scanner = Scanner {
        stack: Vec::new(),
        state: State::BeginValue,
        end_top: false,
    };
    for (i, &c) in input.iter().enumerate() {
        scanner.step(c).map_err(|message| SyntaxError {
            message,
            offset: i + 1,
        })?;
    }
    // Go's `eof`: feed one space; then the value must be complete.
    if !scanner.end_top {
        scanner.step(b' ').map_err(|message| SyntaxError {
            message,
            offset: input.len(),
        })?;
    }
    if scanner.end_top {
        Ok(())
    } else {
        Err(SyntaxError {
            message: "unexpected end of JSON input".into(),
            offset: input.len(),
        })
    }
}

struct Scanner {
    stack: Vec<Frame>,
    state: State,
    end_top: bool,
}

impl Scanner {
    fn push(&mut self, frame: Frame, c: u8) -> Result<(), String> {
        self.stack.push(frame);
        if self.stack.len() > MAX_DEPTH {
            return Err(format!(
                "invalid character {} exceeded max depth",
                quote_char(c)
            ));
        }
        Ok(())
    }

    /// Close the innermost object or array.
    fn pop(&mut self) -> State {
        self.stack.pop();
        if self.stack.is_empty() {
            self.end_top = true;
            State::EndTop
        } else {
            State::EndValue
        }
    }

    fn set_top(&mut self, frame: Frame) {
        if let Some(top) = self.stack.last_mut() {
            *top = frame;
        }
    }

    /// Consume one byte; on error, the message.
    fn step(&mut self, c: u8) -> Result<(), String> {
        let err = |context: &str| format!("invalid character {} {context}", quote_char(c));
        // Some states hand the byte on to another state; loop until one consumes it.
        let mut s = self.state;
        loop {
            match s {
                State::BeginValueOrEmpty | State::BeginValue => {
                    if is_space(c) {
                        break;
                    }
                    if s == State::BeginValueOrEmpty && c == b']' {
                        s = State::EndValue;
                        continue;
                    }
                    s = match c {
                        b'{' => {
                            self.push(Frame::ObjectKey, c)?;
                            State::BeginStringOrEmpty
                        }
                        b'[' => {
                            self.push(Frame::Array, c)?;
                            State::BeginValueOrEmpty
                        }
                        b'"' => State::InString,
                        b'-' => State::Neg,
                        b'0' => State::Zero,
                        b't' => State::Literal(b"true", 1),
                        b'f' => State::Literal(b"false", 1),
                        b'n' => State::Literal(b"null", 1),
                        b'1'..=b'9' => State::Digits1,
                        _ => return Err(err("looking for beginning of value")),
                    };
                    break;
                }
                State::BeginStringOrEmpty => {
                    if is_space(c) {
                        break;
                    }
                    if c == b'}' {
                        self.set_top(Frame::ObjectValue);
                        s = State::EndValue;
                        continue;
                    }
                    s = State::BeginString;
                }
                State::BeginString => {
                    if is_space(c) {
                        break;
                    }
                    if c == b'"' {
                        s = State::InString;
                        break;
                    }
                    return Err(err("looking for beginning of object key string"));
                }
                State::EndValue => {
                    let Some(&top) = self.stack.last() else {
                        self.end_top = true;
                        s = State::EndTop;
                        continue;
                    };
                    if is_space(c) {
                        break;
                    }
                    match (top, c) {
                        (Frame::ObjectKey, b':') => {
                            self.set_top(Frame::ObjectValue);
                            s = State::BeginValue;
                        }
                        (Frame::ObjectKey, _) => return Err(err("after object key")),
                        (Frame::ObjectValue, b',') => {
                            self.set_top(Frame::ObjectKey);
                            s = State::BeginString;
                        }
                        (Frame::ObjectValue, b'}') | (Frame::Array, b']') => s = self.pop(),
                        (Frame::ObjectValue, _) => return Err(err("after object key:value pair")),
                        (Frame::Array, b',') => s = State::BeginValue,
                        (Frame::Array, _) => return Err(err("after array element")),
                    }
                    break;
                }
                State::EndTop => {
                    if !is_space(c) {
                        return Err(err("after top-level value"));
                    }
                    break;
                }
                State::InString => {
                    match c {
                        b'"' => s = State::EndValue,
                        b'\\' => s = State::InStringEsc,
                        c if c < 0x20 => return Err(err("in string literal")),
                        _ => {}
                    }
                    break;
                }
                State::InStringEsc => {
                    s = match c {
                        b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => State::InString,
                        b'u' => State::InStringEscU(0),
                        _ => return Err(err("in string escape code")),
                    };
                    break;
                }
                State::InStringEscU(n) => {
                    if !c.is_ascii_hexdigit() {
                        return Err(err("in \\u hexadecimal character escape"));
                    }
                    s = if n == 3 {
                        State::InString
                    } else {
                        State::InStringEscU(n + 1)
                    };
                    break;
                }
                State::Neg => {
                    s = match c {
                        b'0' => State::Zero,
                        b'1'..=b'9' => State::Digits1,
                        _ => return Err(err("in numeric literal")),
                    };
                    break;
                }
                State::Digits1 => {
                    if c.is_ascii_digit() {
                        break;
                    }
                    s = State::Zero;
                }
                State::Zero => match c {
                    b'.' => {
                        s = State::Dot;
                        break;
                    }
                    b'e' | b'E' => {
                        s = State::E;
                        break;
                    }
                    _ => s = State::EndValue,
                },
                State::Dot => {
                    if c.is_ascii_digit() {
                        s = State::Dot0;
                        break;
                    }
                    return Err(err("after decimal point in numeric literal"));
                }
                State::Dot0 => {
                    if c.is_ascii_digit() {
                        break;
                    }
                    if c == b'e' || c == b'E' {
                        s = State::E;
                        break;
                    }
                    s = State::EndValue;
                }
                State::E => {
                    s = State::ESign;
                    if c == b'+' || c == b'-' {
                        break;
                    }
                }
                State::ESign => {
                    if c.is_ascii_digit() {
                        s = State::E0;
                        break;
                    }
                    return Err(err("in exponent of numeric literal"));
                }
                State::E0 => {
                    if c.is_ascii_digit() {
                        break;
                    }
                    s = State::EndValue;
                }
                State::Literal(word, seen) => {
                    let want = word[seen];
                    if c != want {
                        let name = std::str::from_utf8(word).unwrap_or_default();
                        return Err(err(&format!(
                            "in literal {name} (expecting {})",
                            quote_char(want)
                        )));
                    }
                    s = if seen + 1 == word.len() {
                        State::EndValue
                    } else {
                        State::Literal(word, seen + 1)
                    };
                    break;
                }
            }
        }
        self.state = s;
        Ok(())
    }
}

/// Builds the tree from input that [`check_syntax`] accepted.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Reader<'_> {
    fn peek(&self) -> u8 {
        self.input.get(self.pos).copied().unwrap_or(0)
    }

    fn skip_space(&mut self) {
        while self.pos < self.input.len() && is_space(self.input[self.pos]) {
            self.pos += 1;
        }
    }

    /// Skip a container that starts at `pos`, without recursion.
    fn skip_container(&mut self) {
        let mut depth = 0usize;
        let mut in_string = false;
        while self.pos < self.input.len() {
            let c = self.input[self.pos];
            self.pos += 1;
            if in_string {
                match c {
                    b'\\' => self.pos += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn value(&mut self) -> Node {
        let first = self.pos;
        if matches!(self.peek(), b'{' | b'[') && self.depth >= TREE_DEPTH {
            let value = if self.peek() == b'{' {
                Value::Object(Vec::new())
            } else {
                Value::Array(Vec::new())
            };
            self.skip_container();
            return Node {
                start: first + 1,
                end: self.pos,
                value,
            };
        }
        self.depth += 1;
        let node = self.value_inner(first);
        self.depth -= 1;
        node
    }

    fn value_inner(&mut self, first: usize) -> Node {
        match self.peek() {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_space();
                    if self.peek() == b'}' {
                        self.pos += 1;
                        break;
                    }
                    let key_start = self.pos;
                    let key = self.string();
                    self.skip_space();
                    self.pos += 1; // ':'
                    self.skip_space();
                    let value = self.value();
                    members.push(Member {
                        key,
                        key_start,
                        value,
                    });
                    self.skip_space();
                    if self.peek() == b',' {
                        self.pos += 1;
                    }
                }
                Node {
                    start: first + 1,
                    end: self.pos,
                    value: Value::Object(members),
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    if self.peek() == b']' {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.value());
                    self.skip_space();
                    if self.peek() == b',' {
                        self.pos += 1;
                    }
                }
                Node {
                    start: first + 1,
                    end: self.pos,
                    value: Value::Array(items),
                }
            }
            b'"' => {
                let s = self.string();
                Node {
                    start: first,
                    end: self.pos,
                    value: Value::String(s),
                }
            }
            b't' | b'f' | b'n' => {
                let c = self.peek();
                let (len, value) = match c {
                    b't' => (4, Value::Bool(true)),
                    b'f' => (5, Value::Bool(false)),
                    _ => (4, Value::Null),
                };
                self.pos += len;
                Node {
                    start: first,
                    end: self.pos,
                    value,
                }
            }
            _ => {
                while self.pos < self.input.len()
                    && matches!(
                        self.input[self.pos],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.pos += 1;
                }
                let literal = String::from_utf8_lossy(&self.input[first..self.pos]).into_owned();
                Node {
                    start: first,
                    end: self.pos,
                    value: Value::Number(literal),
                }
            }
        }
    }

    /// Read a string literal starting at its opening quote, decoding it as Go does.
    fn string(&mut self) -> String {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek();
            match c {
                b'"' => {
                    self.pos += 1;
                    return out;
                }
                b'\\' => {
                    let esc = self.input.get(self.pos + 1).copied().unwrap_or(0);
                    self.pos += 2;
                    match esc {
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4(self.pos);
                            self.pos += 4;
                            out.push(self.surrogate_aware(first));
                        }
                        other => out.push(char::from(other)),
                    }
                }
                0 if self.pos >= self.input.len() => return out,
                c if c < 0x80 => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                _ => {
                    let (ch, len) = decode_utf8(&self.input[self.pos..]);
                    out.push(ch);
                    self.pos += len;
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> u32 {
        let digits = self.input.get(at..at + 4).unwrap_or_default();
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .unwrap_or(0xfffd)
    }

    /// A `\u` escape: combine a surrogate pair when a valid low half follows, else U+FFFD.
    fn surrogate_aware(&mut self, first: u32) -> char {
        if (0xd800..0xe000).contains(&first) {
            let next_is_escape = self.input.get(self.pos..self.pos + 2) == Some(b"\\u");
            if first < 0xdc00 && next_is_escape {
                let second = self.hex4(self.pos + 2);
                if (0xdc00..0xe000).contains(&second) {
                    self.pos += 6;
                    let combined = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                    return char::from_u32(combined).unwrap_or('\u{fffd}');
                }
            }
            return '\u{fffd}';
        }
        char::from_u32(first).unwrap_or('\u{fffd}')
    }
}

/// Go's `utf8.DecodeRune`: one valid character, or U+FFFD consuming a single byte.
fn decode_utf8(bytes: &[u8]) -> (char, usize) {
    let want = match bytes.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return ('\u{fffd}', 1),
    };
    match bytes.get(..want).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next().unwrap_or('\u{fffd}'), want),
        _ => ('\u{fffd}', 1),
    }
}

/// 1-based line and column of a byte index, counted in bytes as upstream does; `(0, 0)` for an
/// index at or past the end (upstream never assigns those a position).
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(input: &[u8]) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            input
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            line_starts,
            len: input.len(),
        }
    }

    pub fn position(&self, index: usize) -> (usize, usize) {
        if index >= self.len {
            return (0, 0);
        }
        let line = self.line_starts.partition_point(|&s| s <= index);
        let start = self.line_starts[line - 1];
        (line, index - start + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(input: &str) -> (String, usize) {
        match parse(input.as_bytes()) {
            Err(e) => (e.message, e.offset),
            Ok(n) => panic!("{input:?} parsed as {n:?}"),
        }
    }

    #[test]
    fn syntax_errors_match_go() {
        let cases = [
            ("", "unexpected end of JSON input", 0),
            ("  ", "unexpected end of JSON input", 2),
            ("{", "unexpected end of JSON input", 1),
            (
                "{x",
                "invalid character 'x' looking for beginning of object key string",
                2,
            ),
            ("{\"a\" 1}", "invalid character '1' after object key", 6),
            (
                "{\"a\":1 2}",
                "invalid character '2' after object key:value pair",
                8,
            ),
            ("[1 2]", "invalid character '2' after array element", 4),
            ("{} x", "invalid character 'x' after top-level value", 4),
            (
                "\u{feff}{}",
                "invalid character 'ï' looking for beginning of value",
                1,
            ),
            ("[01]", "invalid character '1' after array element", 3),
            (
                "[1.]",
                "invalid character ']' after decimal point in numeric literal",
                4,
            ),
            (
                "[1e]",
                "invalid character ']' in exponent of numeric literal",
                4,
            ),
            ("[-]", "invalid character ']' in numeric literal", 3),
            (
                "[tru]",
                "invalid character ']' in literal true (expecting 'e')",
                5,
            ),
            (
                "[nul",
                "invalid character ' ' in literal null (expecting 'l')",
                4,
            ),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
                2,
            ),
            ("[\"a", "unexpected end of JSON input", 3),
            (
                "[\"\\x\"]",
                "invalid character 'x' in string escape code",
                4,
            ),
            (
                "[\"\\u12g4\"]",
                "invalid character 'g' in \\u hexadecimal character escape",
                7,
            ),
            ("[\"\t\"]", "invalid character '\\t' in string literal", 3),
            (
                "[']",
                "invalid character '\\'' looking for beginning of value",
                2,
            ),
            (
                "{,}",
                "invalid character ',' looking for beginning of object key string",
                2,
            ),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
                4,
            ),
        ];
        for (input, message, offset) in cases {
            assert_eq!(syntax(input), (message.to_owned(), offset), "{input:?}");
        }
    }

    #[test]
    fn top_level_scalars_are_complete() {
        for input in ["12", "-0", "1.5e+3 ", "\"x\"", "null", "true"] {
            assert!(parse(input.as_bytes()).is_ok(), "{input:?}");
        }
    }

    #[test]
    fn any_decoding_needs_finite_numbers() {
        assert!(decodes_as_any(br#"{"a":[1,-2.5e300,"1e400"]}"#));
        assert!(decodes_as_any(b"1e-400"));
        assert!(!decodes_as_any(br#"{"a":1e400}"#));
        assert!(!decodes_as_any(b"{"));
    }

    #[test]
    fn depth_limit() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            syntax(&deep),
            (
                "invalid character '[' exceeded max depth".into(),
                MAX_DEPTH + 1
            )
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn values_and_positions() {
        let node =
            parse(br#" {"a": [1, -2.5e3, "x\u00e9\ud83d\ude00\ud800"], "b": null, "a": true}"#)
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(node.start, 2);
        let Value::Object(members) = &node.value else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].key_start, 2);
        let Value::Array(items) = &members[0].value.value else {
            panic!("not an array")
        };
        assert_eq!(items[0].value, Value::Number("1".into()));
        assert_eq!(items[1].value, Value::Number("-2.5e3".into()));
        assert_eq!(items[2].value, Value::String("xé😀\u{fffd}".into()));
        assert_eq!(items[2].start, 19);
        assert_eq!(
            node.get("a").map(|m| &m.value.value),
            Some(&Value::Bool(true))
        );
        assert_eq!(node.get("b").map(|m| &m.value.value), Some(&Value::Null));
    }

    #[test]
    fn invalid_utf8_is_replaced_per_byte() {
        let node = parse(b"\"a\xe2\x82b\"").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(node.value, Value::String("a\u{fffd}\u{fffd}b".into()));
    }

    #[test]
    fn line_columns() {
        let idx = LineIndex::new(b"ab\ncd\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(2), (1, 3));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(6), (0, 0));
    }
}
