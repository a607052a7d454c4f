//! Unit file contents as upstream reads them (go-systemd's `unit.DeserializeOptions`): which
//! contents fail and with what message, and which sections have options.

/// go-systemd's line limit.
const LINE_MAX: usize = 2048;
/// Go's default `bufio.Reader` size: the line-length check only sees what is buffered.
const BUF_SIZE: usize = 4096;

/// The section of every option, in order; `Err` with go-systemd's message.
pub fn parse_options(contents: Option<&str>) -> Result<Vec<String>, String> {
    let Some(contents) = contents else {
        return Ok(Vec::new());
    };
    Lexer {
        buf: Buffer {
            input: contents.as_bytes(),
            r: 0,
            w: 0,
            eof: false,
        },
        sections: Vec::new(),
    }
    .run()
}

/// A simulation of `bufio.Reader` over a string: what is buffered decides when go-systemd's
/// "line too long" check fires.
struct Buffer<'a> {
    input: &'a [u8],
    /// Read position.
    r: usize,
    /// End of buffered data.
    w: usize,
    /// A read returned end of input.
    eof: bool,
}

impl Buffer<'_> {
    fn fill(&mut self) {
        if self.w == self.input.len() {
            self.eof = true;
            return;
        }
        self.w = self.input.len().min(self.r + BUF_SIZE);
    }

    fn buffered(&self) -> usize {
        self.w - self.r
    }

    fn full_rune(&self) -> bool {
        let avail = &self.input[self.r..self.w];
        match avail.first() {
            None => false,
            Some(&b) => {
                let need = match b {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => 1,
                };
                avail.len() >= need
                    || std::str::from_utf8(avail).is_err_and(|e| e.error_len().is_some())
            }
        }
    }

    /// `ReadRune`: `None` at end of input. Invalid UTF-8 reads as U+FFFD, one byte.
    fn read_rune(&mut self) -> Option<(char, usize)> {
        while self.r + 4 > self.w && !self.full_rune() && !self.eof && self.buffered() < BUF_SIZE {
            self.fill();
        }
        if self.r == self.w {
            return None;
        }
        let avail = &self.input[self.r..self.w];
        let (c, n) = match avail[0] {
            b if b < 0x80 => (char::from(b), 1),
            _ => {
                let n = match avail[0] {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => 1,
                };
                match avail.get(..n).map(std::str::from_utf8) {
                    Some(Ok(s)) => (s.chars().next().unwrap_or('\u{fffd}'), n),
                    _ => ('\u{fffd}', 1),
                }
            }
        };
        self.r += n;
        Some((c, n))
    }

    fn unread(&mut self, n: usize) {
        self.r -= n;
    }

    /// `ReadBytes(delim)`: up to and including `delim`; `Err` with what was read at end of input.
    fn read_bytes(&mut self, delim: u8) -> Result<Vec<u8>, Vec<u8>> {
        let mut out = Vec::new();
        let mut searched = self.r;
        loop {
            if let Some(i) = self.input[searched..self.w]
                .iter()
                .position(|&b| b == delim)
            {
                let end = searched + i + 1;
                out.extend_from_slice(&self.input[self.r..end]);
                self.r = end;
                return Ok(out);
            }
            if self.eof {
                out.extend_from_slice(&self.input[self.r..self.w]);
                self.r = self.w;
                return Err(out);
            }
            if self.buffered() >= BUF_SIZE {
                out.extend_from_slice(&self.input[self.r..self.w]);
                self.r = self.w;
            }
            searched = self.w;
            self.fill();
        }
    }

    /// `toEOL`: the rest of the line without its `\n` (and a `\r` right before the end of input).
    fn read_line(&mut self) -> (Vec<u8>, bool) {
        let (mut line, eof) = match self.read_bytes(b'\n') {
            Ok(l) => (l, false),
            Err(l) => (l, true),
        };
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        (line, eof)
    }
}

#[derive(Clone, Copy)]
enum Step {
    NextSection,
    SectionName,
    SectionSuffix,
    IgnoreLine { then_option: bool },
    NextSectionOrOption,
    OptionName,
    OptionValue,
}

struct Lexer<'a> {
    buf: Buffer<'a>,
    /// Section of each option lexed so far.
    sections: Vec<String>,
}

/// The rune starting at `b[i]` and its length in bytes, as Go's `utf8.DecodeRune` reads it;
/// `None` for an invalid byte (which Go steps over one byte at a time).
fn decode_rune(b: &[u8], i: usize) -> Option<(char, usize)> {
    let n = match b.get(i)? {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    };
    let c = std::str::from_utf8(b.get(i..i + n)?).ok()?.chars().next()?;
    Some((c, n))
}

/// Go's `bytes.TrimSpace`: Unicode white space off both ends (invalid UTF-8 is not space).
fn trim_space(b: &[u8]) -> &[u8] {
    let mut runes = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (space, len) = match decode_rune(b, i) {
            Some((c, n)) => (c.is_whitespace(), n),
            None => (false, 1),
        };
        runes.push((i, len, space));
        i += len;
    }
    let first = runes.iter().position(|r| !r.2);
    let last = runes.iter().rposition(|r| !r.2);
    match (first, last) {
        (Some(f), Some(l)) => &b[runes[f].0..runes[l].0 + runes[l].1],
        _ => &[],
    }
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<String>, String> {
        let mut step = Some(Step::NextSection);
        let mut section = String::new();
        while let Some(s) = step {
            if self.buf.buffered() >= LINE_MAX {
                let window = &self.buf.input[self.buf.r..self.buf.r + LINE_MAX];
                if !window.iter().any(|&b| b == b'\r' || b == b'\n') {
                    return Err(format!("line too long (max {LINE_MAX} bytes)"));
                }
            }
            step = match s {
                Step::NextSection => match self.buf.read_rune() {
                    None => None,
                    Some(('[', _)) => Some(Step::SectionName),
                    Some(('#' | ';', _)) => Some(Step::IgnoreLine { then_option: false }),
                    Some(_) => Some(Step::NextSection),
                },
                Step::SectionName => {
                    let Ok(mut name) = self.buf.read_bytes(b']') else {
                        return Err("unable to find end of section".into());
                    };
                    name.pop();
                    section = String::from_utf8_lossy(&name).into_owned();
                    Some(Step::SectionSuffix)
                }
                Step::SectionSuffix => {
                    // The rest of the line must be blank.
                    let (rest, _) = self.buf.read_line();
                    let garbage = trim_space(&rest);
                    if !garbage.is_empty() {
                        return Err(format!(
                            "found garbage after section name : {}",
                            go_quote_bytes(garbage)
                        ));
                    }
                    Some(Step::NextSectionOrOption)
                }
                Step::IgnoreLine { then_option } => {
                    loop {
                        let (mut line, _) = self.buf.read_line();
                        if line.last() == Some(&b' ') {
                            line.pop();
                        }
                        if line.last() != Some(&b'\\') {
                            break;
                        }
                    }
                    Some(if then_option {
                        Step::NextSectionOrOption
                    } else {
                        Step::NextSection
                    })
                }
                Step::NextSectionOrOption => match self.buf.read_rune() {
                    None => None,
                    Some((c, _)) if c.is_whitespace() => Some(Step::NextSectionOrOption),
                    Some(('[', _)) => Some(Step::SectionName),
                    Some(('#' | ';', _)) => Some(Step::IgnoreLine { then_option: true }),
                    Some((_, n)) => {
                        self.buf.unread(n);
                        Some(Step::OptionName)
                    }
                },
                Step::OptionName => loop {
                    match self.buf.read_rune() {
                        None => return Err("EOF".into()),
                        Some(('\n' | '\r', _)) => {
                            return Err(
                                "unexpected newline encountered while parsing option name".into()
                            );
                        }
                        Some(('=', _)) => break Some(Step::OptionValue),
                        Some(_) => {}
                    }
                },
                Step::OptionValue => {
                    // A value continues on the next line after a trailing backslash.
                    let (line, _) = self.buf.read_line();
                    if !trim_space(&line).is_empty() && line.ends_with(b"\\") {
                        Some(Step::OptionValue)
                    } else {
                        self.sections.push(section.clone());
                        Some(Step::NextSectionOrOption)
                    }
                }
            };
        }
        Ok(self.sections)
    }
}

/// Go's `strconv.IsPrint`, approximated without Unicode category tables: controls, non-ASCII
/// spaces, line/paragraph separators, the common format characters, private use, surrogate-free
/// noncharacters and the unassigned planes are not printable.
fn go_is_print(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || u == 0x1680
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x206f).contains(&u)
        || u == 0x3000
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xfdd0..=0xfdef).contains(&u)
        || (u & 0xfffe) == 0xfffe
        || (0xe000..=0xf8ff).contains(&u)
        || (0x323b0..=0xe00ff).contains(&u)
        || u >= 0xe01f0)
}

/// Go's `%q` of a string.
pub fn go_quote(s: &str) -> String {
    go_quote_bytes(s.as_bytes())
}

/// Go's `strconv.Quote` of bytes: printable runes kept, the rest escaped.
pub fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < b.len() {
        match decode_rune(b, i) {
            Some((c, n)) => {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\u{7}' => out.push_str("\\a"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{b}' => out.push_str("\\v"),
                    c if !go_is_print(c) => {
                        if (c as u32) < 0x80 {
                            out.push_str(&format!("\\x{:02x}", c as u32));
                        } else if (c as u32) < 0x10000 {
                            out.push_str(&format!("\\u{:04x}", c as u32));
                        } else {
                            out.push_str(&format!("\\U{:08x}", c as u32));
                        }
                    }
                    c => out.push(c),
                }
                i += n;
            }
            _ => {
                out.push_str(&format!("\\x{:02x}", b[i]));
                i += 1;
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(s: &str) -> Result<Vec<String>, String> {
        parse_options(Some(s))
    }

    #[test]
    fn options_and_sections() {
        let got = sections("# c\n[Unit]\nA=b\n  B = c \\\n  more\n[Install]\nWantedBy=x\n");
        assert_eq!(
            got,
            Ok(vec!["Unit".into(), "Unit".into(), "Install".into()])
        );
        assert_eq!(sections("[Install]\n"), Ok(vec![]));
        assert_eq!(
            sections("garbage before\n[Unit]\nA=b"),
            Ok(vec!["Unit".into()])
        );
        assert_eq!(parse_options(None), Ok(vec![]));
    }

    #[test]
    fn errors_match_go_systemd() {
        assert_eq!(
            sections("[Unit"),
            Err("unable to find end of section".into())
        );
        assert_eq!(sections("[Unit]\nA"), Err("EOF".into()));
        assert_eq!(
            sections("[Unit]\nA\nB=c"),
            Err("unexpected newline encountered while parsing option name".into())
        );
        assert_eq!(
            sections("[Unit] x\n"),
            Err("found garbage after section name : \"x\"".into())
        );
        let long = format!("[Unit]\nA={}\n", "x".repeat(5000));
        assert_eq!(
            sections(&long),
            Err("line too long (max 2048 bytes)".into())
        );
        let fits = format!("[Unit]\nA={}\n", "x".repeat(2000));
        assert_eq!(sections(&fits), Ok(vec!["Unit".into()]));
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("é\u{1}"), "\"é\\x01\"");
        assert_eq!(go_quote_bytes(b"\xff"), "\"\\xff\"");
        assert_eq!(go_quote("\u{78e38}\u{a0}"), "\"\\U00078e38\\u00a0\"");
    }
}
