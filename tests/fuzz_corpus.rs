//! Every file of the committed fuzz corpora (`fuzz/corpus/parse`,
//! `fuzz/corpus/edit_roundtrip`) and any crash artifacts left in
//! `fuzz/artifacts/` go through the checks the fuzz targets run, so a crash
//! once found stays fixed under plain `cargo test`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use branchline::sip::edit::Editor;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn fuzz_corpora_and_artifacts_pass_the_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut seeds = Vec::new();
    for target in ["parse", "edit_roundtrip"] {
        let before = seeds.len();
        files_under(&root.join("corpus").join(target), &mut seeds);
        let committed = seeds[before..]
            .iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("seed-")
            })
            .count();
        assert!(
            committed >= 32,
            "{target}: only {committed} committed seeds"
        );
    }
    files_under(&root.join("artifacts"), &mut seeds);
    let mut ed = Editor::new();
    let mut out = Vec::new();
    for path in &seeds {
        // A running fuzzer may remove files it has reduced.
        let Ok(data) = fs::read(path) else {
            continue;
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            common::check_all(&data, &mut ed, &mut out)
        }));
        assert!(r.is_ok(), "{} fails the fuzz checks", path.display());
    }
}
