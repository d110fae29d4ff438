//! Tests of the sample generator.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::*;
use crate::phone::Phone;
use crate::vocab::{Category, StaffRole};

/// The rows of a CSV text after its header.
fn body(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let records = reader
        .records()
        .map(|r| r.expect("valid CSV").iter().map(String::from).collect());
    records.collect()
}

fn unit_codes(data: &SampleData) -> HashSet<String> {
    body(&data.units)
        .iter()
        .map(|r| format!("{}-{}-{}", r[2], r[5], r[6]))
        .collect()
}

/// Checks that `phone` is a valid Chinese number not seen before.
fn fresh_phone(phone: &str, seen: &mut HashSet<String>) {
    Phone::parse(phone).unwrap_or_else(|e| panic!("{phone}: {e}"));
    assert!(seen.insert(phone.to_string()), "{phone} given twice");
}

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/sample")
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    assert_eq!(generate(SEED), generate(SEED));
    assert_ne!(generate(SEED).owners, generate(SEED + 1).owners);
    assert_ne!(generate(SEED).units, generate(SEED + 1).units);
}

#[test]
fn headers_are_the_import_columns() {
    let data = generate(SEED);
    let header = |text: &str| text.lines().next().unwrap_or_default().to_string();
    assert_eq!(header(&data.units), UNIT_HEADER);
    assert_eq!(header(&data.suppliers), "code,name,trade,phone,email");
    assert_eq!(
        header(&data.components),
        "unit_code,component,supplier_code,warranty_months"
    );
    assert_eq!(header(&data.staff), STAFF_HEADER);
    assert_eq!(header(&data.owners), OWNER_HEADER);
}

#[test]
fn units_and_components_fit_together() {
    let data = generate(SEED);
    let units = body(&data.units);
    let projects: HashSet<&str> = units.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(projects.len(), 4);
    assert!(
        (1_900..=2_100).contains(&units.len()),
        "{} units",
        units.len()
    );
    let pending = units.iter().filter(|r| r[9].is_empty()).count();
    assert!(
        (1..=150).contains(&pending),
        "{pending} units not handed over"
    );
    let codes = unit_codes(&data);
    assert_eq!(codes.len(), units.len(), "unit codes are unique");
    let components = body(&data.components);
    assert_eq!(components.len(), codes.len() * COMPONENTS.len());
    let suppliers: HashSet<String> = body(&data.suppliers)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    for row in components {
        assert!(codes.contains(&row[0]), "no unit {}", row[0]);
        assert!(suppliers.contains(&row[2]), "no supplier {}", row[2]);
    }
}

#[test]
fn owners_own_existing_units_with_distinct_valid_phones() {
    let data = generate(SEED);
    let codes = unit_codes(&data);
    let owners = body(&data.owners);
    assert!(
        (1_800..=2_100).contains(&owners.len()),
        "{} owners",
        owners.len()
    );
    let (mut owned, mut phones) = (HashSet::new(), HashSet::new());
    for row in &owners {
        assert!(!row[9].is_empty(), "{} owns no unit", row[0]);
        for unit in row[9].split(';') {
            assert!(codes.contains(unit), "no unit {unit}");
            assert!(owned.insert(unit.to_string()), "{unit} has two owners");
        }
        row[2]
            .split(';')
            .for_each(|phone| fresh_phone(phone, &mut phones));
    }
    body(&data.staff)
        .iter()
        .for_each(|row| fresh_phone(&row[4], &mut phones));
    body(&data.suppliers)
        .iter()
        .for_each(|row| fresh_phone(&row[3], &mut phones));
}

#[test]
fn every_category_of_every_project_has_one_responsible_with_an_earlier_head() {
    let staff = body(&generate(SEED).staff);
    let mut roles: HashMap<&str, &str> = HashMap::new();
    let mut matrix: HashMap<(&str, Category), usize> = HashMap::new();
    for row in &staff {
        StaffRole::parse(&row[2]).expect("a known role");
        if !row[9].is_empty() {
            assert_eq!(
                roles.get(row[9].as_str()),
                Some(&"department_head"),
                "{}'s head",
                row[0]
            );
        }
        roles.insert(&row[0], &row[2]);
        for category in row[8].split(';').filter(|_| row[2] == "responsible") {
            let category = Category::parse(category).expect("a known category");
            *matrix.entry((&row[7], category)).or_default() += 1;
        }
    }
    for project in &PROJECTS {
        for &category in Category::ALL {
            assert_eq!(
                matrix.get(&(project.code, category)),
                Some(&1),
                "{} {category}",
                project.code
            );
        }
    }
}

#[test]
fn synthetic_owners_stream_with_distinct_phones() {
    let mut out = Vec::new();
    write_owners(1000, 1, &mut out).expect("written");
    let text = String::from_utf8(out).expect("UTF-8");
    assert_eq!(text.lines().count(), 1001);
    let owners = body(&text);
    assert_eq!(owners[0][0], "B0000001");
    let mut phones = HashSet::new();
    // The benchmark imports them next to the sample: their numbers must not meet.
    let mut bench = Vec::new();
    write_owners(1000, SEED, &mut bench).expect("written");
    let sample = generate(SEED);
    let sample_phones = body(&sample.owners).into_iter().map(|r| r[2].clone());
    let staff_phones = body(&sample.staff).into_iter().map(|r| r[4].clone());
    let bench_phones = body(&String::from_utf8(bench).expect("UTF-8"))
        .into_iter()
        .map(|r| r[2].clone());
    let mut all = HashSet::new();
    for list in sample_phones.chain(staff_phones).chain(bench_phones) {
        list.split(';')
            .for_each(|phone| fresh_phone(phone, &mut all));
    }
    for row in owners {
        assert!(row[9].is_empty());
        row[2]
            .split(';')
            .for_each(|phone| fresh_phone(phone, &mut phones));
    }
}

#[test]
fn committed_sample_is_up_to_date() {
    for (name, text) in generate(SEED).files() {
        let path = committed().join(name);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "{} differs from generate(SEED); rewrite it with \
             `cargo test --lib sample -- --ignored regenerate` and commit the result",
            path.display()
        );
    }
}

#[test]
#[ignore = "rewrites campaigns/sample/*.csv"]
fn regenerate_committed_sample() {
    generate(SEED).write_to(&committed()).expect("written");
}
