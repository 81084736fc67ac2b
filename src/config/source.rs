//! Where a problem is: the file's text, byte spans turned into 1-based
//! `line:col`, and [`Diagnostic`], one `FILE:LINE:COL: message` line. No I/O.

use std::fmt;
use std::ops::Range;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// One problem found in a routing file (or in a file it names), printed as
/// `FILE:LINE:COL: what is wrong; what would be right`. The line and column
/// are left out where they do not apply (a file that cannot be read, a CSV
/// line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (or relative to the routing file's
    /// folder as it was joined).
    pub file: String,
    /// 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub col: Option<usize>,
    /// What is wrong and what would be right.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `loc` in `file`.
    pub fn at(file: &str, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: Some(loc.line),
            col: Some(loc.col),
            message: message.into(),
        }
    }

    /// A problem on a line of `file` (a CSV line).
    pub fn on_line(file: &str, line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: Some(line),
            col: None,
            message: message.into(),
        }
    }

    /// A problem with `file` as a whole (it cannot be read).
    pub fn file(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: None,
            col: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.col {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// The routing file's text and name, for turning spans into [`Loc`]s.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    pub name: String,
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(name: String, text: &'a str) -> Source<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name,
            text,
            line_starts,
        }
    }

    /// The line and column of the span's first byte.
    pub fn loc(&self, span: &Range<usize>) -> Loc {
        let at = span.start.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..at)
            .map_or(1, |s| s.chars().count() + 1);
        Loc { line, col }
    }

    pub fn diag(&self, span: &Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.name, self.loc(span), message)
    }
}
