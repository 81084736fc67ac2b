//! The `prefix_table` CSV of a rule: lines `prefix,group`, checked with the
//! CSV's own `file:line`. Blank lines and lines starting with `#` are
//! skipped, and so is a first line `prefix,group` (a header). No I/O.

use std::collections::HashMap;

use super::source::Diagnostic;
use super::values::prefix;
use crate::route::DialKey;

/// Most problems reported for one CSV before the rest are counted.
const MAX_REPORTED: usize = 20;

/// The (prefix, group index) lines of the CSV named `name`, whose text is
/// `text`, or every problem in it (up to [`MAX_REPORTED`], then a count).
pub(crate) fn read_table(
    name: &str,
    text: &str,
    groups: &[&str],
) -> Result<Vec<(DialKey, usize)>, Vec<Diagnostic>> {
    let mut entries = Vec::new();
    // Prefixes are kept packed, not as text: a table of a million lines
    // then costs 16 bytes a line while it is read.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut problems = Vec::new();
    let mut more = 0usize;
    let mut report = |d: Diagnostic| {
        if problems.len() < MAX_REPORTED {
            problems.push(d);
        } else {
            more += 1;
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line_no == 1 && line.replace(' ', "").eq_ignore_ascii_case("prefix,group") {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [p, group] = fields[..] else {
            report(Diagnostic::on_line(
                name,
                line_no,
                format!(
                    "\"{line}\" has {} field(s); write one `prefix,group` per line, e.g. `+4420,uk`",
                    fields.len()
                ),
            ));
            continue;
        };
        let (p, key) = match prefix(p).and_then(|p| {
            DialKey::of_prefix(&p)
                .map(|k| (p.clone(), k))
                .map_err(|e| format!("prefix \"{p}\": {e}"))
        }) {
            Ok(pk) => pk,
            Err(e) => {
                report(Diagnostic::on_line(name, line_no, e));
                continue;
            }
        };
        let Some(g) = groups.iter().position(|&n| n == group) else {
            report(Diagnostic::on_line(
                name,
                line_no,
                format!(
                    "prefix \"{p}\" routes to group \"{group}\", which is not defined (groups: {})",
                    groups.join(", ")
                ),
            ));
            continue;
        };
        if let Some(first) = seen.get(&key.0) {
            report(Diagnostic::on_line(
                name,
                line_no,
                format!("prefix \"{p}\" is listed twice (first on line {first}); keep one line per prefix"),
            ));
            continue;
        }
        seen.insert(key.0, line_no);
        entries.push((key, g));
    }
    if more > 0 {
        problems.push(Diagnostic::file(
            name,
            format!(
                "{more} more problem(s) not shown; fix the ones above and run check-config again"
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if entries.is_empty() {
        return Err(vec![Diagnostic::file(
            name,
            "the prefix table has no lines; write one `prefix,group` per line, e.g. `+4420,uk`",
        )]);
    }
    Ok(entries)
}
