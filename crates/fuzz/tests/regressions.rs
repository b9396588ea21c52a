//! Every input the fuzzer found crashing a reader (kept in `regressions/`, named
//! `TARGET-…`) now gives an error, never a panic.

use std::path::Path;

use strata_fuzz::{run, Outcome, Target};

#[test]
fn kept_crashing_inputs_are_clean_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let scratch =
        std::env::temp_dir().join(format!("strata-fuzz-regressions-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let target = [
            "idx-gz",
            "idx",
            "cifar-tar-gz",
            "cifar",
            "model",
            "png",
            "jpeg",
            "pth",
            "safetensors",
            "hdf5",
        ]
        .iter()
        .find(|t| name.starts_with(&format!("{t}-")))
        .and_then(|t| Target::from_name(t))
        .unwrap_or_else(|| panic!("{name}: no target prefix"));
        let bytes = std::fs::read(&path).unwrap();
        let outcome = run(target, &bytes, &scratch);
        assert!(
            !matches!(outcome, Outcome::Panicked(_)),
            "{name}: {outcome:?}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no regression inputs in {}", dir.display());
}
