//! Rust source with its comments and string literals blanked, and the paths it names.
//!
//! A small lexer rather than a parser: the checks only need `crate::x`, `super::x` and
//! `use crate::{a, b::c}` groups, and they must not see `crate::web` inside a doc comment or
//! `sqlite://` inside a string as the start of a comment.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Code with comments and the insides of string and char literals replaced by spaces.
pub(crate) struct Code(String);

impl Code {
    pub(crate) fn read(file: &Path) -> Code {
        Code::parse(&std::fs::read_to_string(file).unwrap())
    }

    pub(crate) fn parse(text: &str) -> Code {
        let b: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(b.len());
        let mut i = 0;
        let at = |i: usize, s: &str| s.chars().enumerate().all(|(k, c)| b.get(i + k) == Some(&c));
        while i < b.len() {
            if at(i, "//") {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            } else if at(i, "/*") {
                let mut depth = 0;
                while i < b.len() {
                    if at(i, "/*") {
                        depth += 1;
                        i += 2;
                    } else if at(i, "*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            } else if let Some(hashes) = raw_string_start(&b, i) {
                // r"..." or r#"..."# (and br"...").
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                i += b[i..].iter().position(|&c| c == '"').unwrap() + 1;
                while i < b.len() && !at(i, &close) {
                    i += 1;
                }
                i += close.len();
                out.push_str("\"\"");
            } else if b[i] == '"' {
                i += 1;
                while i < b.len() && b[i] != '"' {
                    i += if b[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            } else if b[i] == '\'' {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a, 'static).
                if b.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < b.len() && b[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                    out.push_str("' '");
                } else if b.get(i + 2) == Some(&'\'') {
                    i += 3;
                    out.push_str("' '");
                } else {
                    out.push('\'');
                    i += 1;
                }
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        Code(out)
    }

    /// The first segment of every `crate::` path, including each item of a `crate::{..}` group.
    pub(crate) fn crate_paths(&self) -> Vec<String> {
        self.prefixed_paths("crate::")
    }

    /// The first segment after every occurrence of `prefix` (a path start such as `super::`).
    pub(crate) fn prefixed_paths(&self, prefix: &str) -> Vec<String> {
        let s = &self.0;
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(pos) = s[from..].find(prefix) {
            let start = from + pos;
            from = start + prefix.len();
            let before = s[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &s[from..];
            if let Some(group) = rest.strip_prefix('{') {
                found.extend(group_items(group));
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    found.push(name.to_string());
                }
            }
        }
        found
    }

    /// Whether the code names `word` (as a path or an identifier, outside comments and strings).
    pub(crate) fn mentions(&self, word: &str) -> bool {
        self.0.match_indices(word).any(|(at, _)| {
            let before = self.0[..at].chars().next_back();
            let after = self.0[at + word.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    }

    /// Whether the code has `use super::*`.
    pub(crate) fn glob_super_import(&self) -> bool {
        self.0.split(';').any(|stmt| {
            stmt.split_whitespace()
                .collect::<String>()
                .ends_with("usesuper::*")
        }) && !self.0.contains("mod tests")
            || self.0.split("mod tests").next().is_some_and(|before| {
                before.split(';').any(|stmt| {
                    stmt.split_whitespace()
                        .collect::<String>()
                        .ends_with("usesuper::*")
                })
            })
    }

    /// The names of the `#[macro_export]` macros the code defines.
    pub(crate) fn exported_macros(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (at, _) in self.0.match_indices("#[macro_export]") {
            let rest = &self.0[at..];
            if let Some(m) = rest.find("macro_rules!") {
                names.push(ident(rest[m + "macro_rules!".len()..].trim_start()).to_string());
            }
        }
        names
    }
}

/// The number of `#` of a raw string starting at `i`, if one does.
fn raw_string_start(b: &[char], i: usize) -> Option<usize> {
    let prev = i.checked_sub(1).map(|p| b[p]);
    if prev.is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&'b') {
        j += 1;
    }
    if b.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == '#').count();
    (b.get(j + hashes) == Some(&'"')).then_some(hashes)
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of each top-level item of a `{a, b::{c, d}, e}` group (`group` starts
/// after the opening brace).
fn group_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && depth == 0 && !c.is_whitespace() => {
                item_start = false;
                let name = ident(&group[i..]);
                if !name.is_empty() {
                    items.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    items
}
