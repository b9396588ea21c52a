//! Reading the h5py edge-case fixtures: every dataset against expected.json, in
//! both file formats (libver v108 and earliest).

use strata_hdf5::{Datatype, Error, File, Node};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> serde_json::Value {
    let text =
        std::fs::read_to_string(fixture("expected.json")).expect("expected.json is committed");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn check_file(name: &str, superblock: u8) {
    let f = File::open(fixture(name)).unwrap();
    assert_eq!(f.superblock_version(), superblock);
    let e = expected();
    let cases = e["edge"].as_object().unwrap();
    let data = f.group("data").unwrap();
    let mut names = data.member_names().unwrap();
    names.sort();
    let mut want: Vec<&String> = cases.keys().collect();
    want.sort();
    assert_eq!(names.iter().collect::<Vec<_>>(), want);
    for (key, case) in cases {
        let d = f.dataset(&format!("/data/{key}")).unwrap();
        let shape: Vec<u64> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(d.shape(), &shape[..], "{name} {key}");
        let values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let got = d.read_f64().unwrap();
        assert_eq!(got.len(), values.len(), "{name} {key}");
        for (i, (g, w)) in got.iter().zip(&values).enumerate() {
            // f16/f32 values are exact in f64; the JSON text rounds to 17 digits.
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{name} {key}[{i}]: {g} vs {w}"
            );
        }
        let f32s = d.read_f32().unwrap();
        assert_eq!(
            f32s,
            values.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            "{name} {key}"
        );
    }
}

#[test]
fn edge_cases_of_the_v108_format() {
    check_file("edge.h5", 2);
}

#[test]
fn edge_cases_of_the_earliest_format() {
    check_file("edge_v0.h5", 0);
}

#[test]
fn datatypes_are_reported() {
    let f = File::open(fixture("edge.h5")).unwrap();
    let dt = |p: &str| f.dataset(p).unwrap().datatype().clone();
    assert_eq!(
        dt("data/big_endian_f64"),
        Datatype::Float {
            size: 8,
            big_endian: true
        }
    );
    assert_eq!(
        dt("data/f16"),
        Datatype::Float {
            size: 2,
            big_endian: false
        }
    );
    assert_eq!(
        dt("data/i32"),
        Datatype::Integer {
            size: 4,
            signed: true,
            big_endian: false
        }
    );
    assert_eq!(
        dt("data/u8"),
        Datatype::Integer {
            size: 1,
            signed: false,
            big_endian: false
        }
    );
}

#[test]
fn string_and_number_attributes() {
    for name in ["edge.h5", "edge_v0.h5"] {
        let f = File::open(fixture(name)).unwrap();
        let root = f.root().unwrap();
        let get = |k: &str| root.attribute(k).unwrap().unwrap();
        assert_eq!(
            get("fixed_names").strings().unwrap(),
            ["alpha", "be", "gamma_long"]
        );
        assert_eq!(
            get("vlen_name").strings().unwrap(),
            ["a variable-length string"]
        );
        assert_eq!(get("vlen_names").strings().unwrap(), ["x", "yy", "zzz"]);
        assert_eq!(get("int_attr").integers().unwrap(), [42]);
        assert_eq!(get("int_attr").shape(), Some(&[][..]));
        assert_eq!(get("float_attrs").numbers().unwrap(), [1.0, 2.5]);
        let err = get("float_attrs").strings().unwrap_err().to_string();
        assert!(
            err.contains("float_attrs") && err.contains("strings") && err.contains("f64"),
            "{err}"
        );
    }
}

#[test]
fn many_attributes_and_many_links() {
    // With libver v108 these use dense storage (fractal heap + v2 B-tree); with the
    // earliest format compact attributes and a symbol table.
    for name in ["edge.h5", "edge_v0.h5"] {
        let f = File::open(fixture(name)).unwrap();
        let many = f.group("many_attrs").unwrap();
        let mut attrs: Vec<(String, Vec<i64>)> = many
            .attributes()
            .unwrap()
            .iter()
            .map(|a| (a.name().to_string(), a.integers().unwrap()))
            .collect();
        attrs.sort();
        assert_eq!(attrs.len(), 20, "{name}");
        for (i, (n, v)) in attrs.iter().enumerate() {
            assert_eq!(n, &format!("attr{i:02}"));
            assert_eq!(v, &[i as i64, 2 * i as i64]);
        }
        let wide = f.group("wide").unwrap();
        let members = wide.members().unwrap();
        assert_eq!(members.len(), 40, "{name}");
        // Creation order is kept whatever the storage.
        let names = wide.member_names().unwrap();
        assert_eq!(
            names,
            (0..40).map(|i| format!("d{i:02}")).collect::<Vec<_>>(),
            "{name}"
        );
        for m in members {
            let Node::Dataset(d) = m else {
                panic!("a dataset")
            };
            let i: f32 = d.path()[7..].parse().unwrap();
            assert_eq!(d.read_f32().unwrap(), [i, i]);
        }
    }
}

#[test]
fn errors_name_the_file_and_the_object() {
    let f = File::open(fixture("edge.h5")).unwrap();
    let err = f.dataset("data/missing").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("edge.h5") && msg.contains("/data") && msg.contains("missing"),
        "{msg}"
    );
    let msg = f.dataset("data").unwrap_err().to_string();
    assert!(msg.contains("expected a dataset, found a group"), "{msg}");
    let msg = f.group("data/f16").unwrap_err().to_string();
    assert!(
        msg.contains("/data/f16") && msg.contains("expected a group"),
        "{msg}"
    );
    let err = File::open(fixture("no-such-file.h5"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-file.h5"), "{err}");
    let err = File::from_bytes("junk.h5", b"not an hdf5 file at all".to_vec())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("junk.h5") && err.contains("signature"),
        "{err}"
    );
}

#[test]
fn unsupported_features_are_named() {
    let f = File::open(fixture("unsupported.h5")).unwrap();
    assert_eq!(f.superblock_version(), 3);
    let d = f.dataset("growable").unwrap();
    assert_eq!(d.shape(), &[10]);
    let err = d.read_f32().unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("unsupported.h5")
            && msg.contains("/growable")
            && msg.contains("extensible array")
            && msg.contains("offset"),
        "{msg}"
    );
    let msg = f.get("soft").unwrap_err().to_string();
    assert!(msg.contains("/soft") && msg.contains("soft link"), "{msg}");
}

#[test]
fn damaged_checksums_are_reported() {
    // Superblock v2: a changed end-of-file address breaks its checksum.
    let mut bytes = std::fs::read(fixture("edge.h5")).unwrap();
    bytes[30] ^= 0x01;
    let msg = File::from_bytes("edge.h5", bytes).unwrap_err().to_string();
    assert!(msg.contains("superblock checksum"), "{msg}");
    // Object header v2: a changed byte inside the root's header.
    let mut bytes = std::fs::read(fixture("edge.h5")).unwrap();
    let ohdr = bytes.windows(4).position(|w| w == b"OHDR").unwrap();
    bytes[ohdr + 8] ^= 0x40;
    let f = File::from_bytes("edge.h5", bytes).unwrap();
    let msg = f
        .root()
        .and_then(|r| r.member_names())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("checksum") || msg.contains("bad"), "{msg}");
}
