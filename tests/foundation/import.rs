//! CSV import: good rows kept, bad rows named by file, line and column, re-import updates.

use huifang::contacts::import::{ImportError, ImportKind, import_file, import_reader};
use huifang::contacts::{owner_by_code, owner_phones};
use huifang::on_pool;
use huifang::store::Store;
use testkit::db::databases;

use crate::helpers::{import, small_world};

async fn count(store: &Store, table: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(format!("select count(*) from {table}"));
    on_pool!(store, |pool| sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

#[tokio::test]
async fn bad_rows_are_reported_and_good_rows_kept() {
    for db in databases().await {
        small_world(&db.store).await;
        let csv = "code,name,phones,email,language,time_zone,consent_voice,consent_sms,consent_email,units\n\
            O10001,陈静,13700000001,,zh-CN,,1,1,1,HYF-3-1203\n\
            O10002,杨洋,not-a-phone,,,,,,,\n\
            O10003,,13700000003,,,,,,,\n\
            O10004,黄磊,13700000004,bad-mail,,,,,,\n\
            O10005,赵敏,13700000005,,,Mars/Base,,,,\n\
            O10006,吴昊,13700000006,,,,maybe,,,\n\
            O10007,徐丽,13700000007,,,,,,,NOPE-1-101\n\
            O10001,陈静,13700000008,,,,,,,\n\
            O10009,孙悦,13700000001,,,,,,,\n\
            \n\
            O10010,马超,13700000010,,en,Europe/London,0,1,0,\n\
            O10011,Smith, John,13700000011,,en,,1,1,1,\n";
        let report = import(&db.store, ImportKind::Owners, csv).await;
        let errors: Vec<String> = report.rejected.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "owners.csv:3: column `phones`: `not-a-phone` is not a phone number",
                "owners.csv:4: column `name`: is empty",
                "owners.csv:5: column `email`: `bad-mail` is not an email address",
                "owners.csv:6: column `time_zone`: `Mars/Base` is not an IANA time zone",
                "owners.csv:7: column `consent_voice`: `maybe` is not yes/no (use 1/0, yes/no, true/false, 是/否)",
                "owners.csv:8: column `units`: no unit `NOPE-1-101`: import units.csv first",
                "owners.csv:9: column `code`: `O10001` already given on line 2; the first row is kept",
                "owners.csv:10: column `phones`: +8613700000001 already belongs to owner O10001 (line 2)",
                "owners.csv:13: has 11 fields but the header has 10 (a comma inside a value must be quoted)",
            ],
            "{}",
            db.name
        );
        assert_eq!(
            (report.rows, report.accepted, report.created),
            (11, 2, 2),
            "{}",
            db.name
        );
        let kept = owner_by_code(&db.store, "O10010").await.unwrap().unwrap();
        assert_eq!(
            (
                kept.language.as_str(),
                kept.time_zone.as_str(),
                kept.consent_voice
            ),
            ("en", "Europe/London", false)
        );
    }
}

#[tokio::test]
async fn reimport_updates_instead_of_duplicating() {
    for db in databases().await {
        small_world(&db.store).await;
        let before = (
            count(&db.store, "owners").await,
            count(&db.store, "owner_phones").await,
        );
        let csv = "code,name,phones,units\nO00001,张伟伟,13912340000,HYF-3-1203\n";
        let report = import(&db.store, ImportKind::Owners, csv).await;
        assert_eq!((report.accepted, report.created), (1, 0), "{}", db.name);
        let owner = owner_by_code(&db.store, "O00001").await.unwrap().unwrap();
        assert_eq!(owner.name, "张伟伟");
        assert_eq!(
            owner_phones(&db.store, owner.owner_id).await.unwrap(),
            ["+8613912340000"],
            "the file's list replaces the old"
        );
        assert_eq!(count(&db.store, "owners").await, before.0);
        assert_eq!(count(&db.store, "owner_phones").await, before.1 - 1);
        assert_eq!(
            count(&db.store, "owner_units").await,
            3,
            "O00001 moved from 1202 to 1203"
        );

        // Units, suppliers, components and staff update in place as well.
        let units = "region_code,region_name,project_code,project_name,building,unit,handover_date\n\
            EAST,华东区域,HYF,海韵府二期,3,1202,2026-04-01\n";
        assert_eq!(import(&db.store, ImportKind::Units, units).await.created, 0);
        assert_eq!(count(&db.store, "units").await, 2);
        assert_eq!(count(&db.store, "projects").await, 1);
        let staff = "code,name,role,phone,project_code,categories\nS005,李管家,responsible,13900000016,HYF,property_management\n";
        assert_eq!(import(&db.store, ImportKind::Staff, staff).await.created, 0);
        assert_eq!(count(&db.store, "responsibilities").await, 3);
    }
}

#[tokio::test]
async fn a_key_given_twice_in_one_file_keeps_the_first_row() {
    for db in databases().await {
        small_world(&db.store).await;
        let units = "region_code,region_name,project_code,project_name,building,unit,floor\n\
            EAST,华东区域,HYF,海韵府,5,101,1\nEAST,华东区域,HYF,海韵府,5,101,9\n";
        let report = import(&db.store, ImportKind::Units, units).await;
        let errors: Vec<String> = report.rejected.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "units.csv:3: column `unit`: `HYF-5-101` already given on line 2; the first row is kept"
            ],
            "{}",
            db.name
        );
        let components = "unit_code,component,supplier_code,warranty_months\n\
            HYF-5-101,kitchen,SUP01,24\nHYF-5-101,Kitchen,SUP02,12\n";
        let report = import(&db.store, ImportKind::Components, components).await;
        assert_eq!(report.accepted, 1, "{}", db.name);
        assert_eq!(report.rejected[0].line, 3);
        let suppliers = "code,name\nSUP07,甲\nSUP07,乙\n";
        assert_eq!(
            import(&db.store, ImportKind::Suppliers, suppliers)
                .await
                .rejected
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn spreadsheets_import_like_csv_with_sheet_row_numbers() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/owners.xlsx");
    for db in databases().await {
        small_world(&db.store).await;
        let report = import_file(&db.store, ImportKind::Owners, &path, &mut |_| {})
            .await
            .unwrap();
        assert_eq!((report.rows, report.accepted), (3, 2), "{}", db.name);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(
            report.rejected[0].line, 5,
            "the spreadsheet's own row number"
        );
        assert_eq!(report.rejected[0].column.as_deref(), Some("phones"));
        let owner = owner_by_code(&db.store, "O20002").await.unwrap().unwrap();
        assert!(owner.consent_voice && !owner.consent_sms);
        assert_eq!(
            owner_phones(&db.store, owner.owner_id).await.unwrap(),
            ["+8613800002222", "+862164002222"]
        );
        let typed_as_number = owner_by_code(&db.store, "O20001").await.unwrap().unwrap();
        assert_eq!(
            owner_phones(&db.store, typed_as_number.owner_id)
                .await
                .unwrap(),
            ["+8613800001111"]
        );
    }
}

#[tokio::test]
async fn wrong_columns_refuse_the_file_naming_them() {
    for db in databases().await {
        let csv = "code,nmae,phones,colour\nO1,x,13800000000,red\n";
        let err = import_reader(
            &db.store,
            ImportKind::Owners,
            "owners.csv",
            csv.as_bytes(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ImportError::Columns { .. }));
        assert!(
            err.to_string().starts_with(
                "owners.csv:1: missing column(s) name; unknown column(s) colour, nmae;"
            ),
            "{err}"
        );
        let err = import_file(
            &db.store,
            ImportKind::Units,
            std::path::Path::new("/nonexistent/units.csv"),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot open /nonexistent/units.csv:"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn references_must_exist_and_values_must_parse() {
    for db in databases().await {
        small_world(&db.store).await;
        let components = "unit_code,component,supplier_code,warranty_months\n\
            HYF-3-1202,windows,SUP99,60\nHYF-9-101,windows,SUP01,60\nHYF-3-1202,windows,SUP01,forever\n";
        let errors: Vec<String> = import(&db.store, ImportKind::Components, components)
            .await
            .rejected
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "components.csv:2: column `supplier_code`: no supplier `SUP99`: import suppliers.csv first",
                "components.csv:3: column `unit_code`: no unit `HYF-9-101`: import units.csv first",
                "components.csv:4: column `warranty_months`: `forever` is not a number of months (0-1200)",
            ],
            "{}",
            db.name
        );
        let units = "region_code,region_name,project_code,project_name,building,unit,floor,handover_date\n\
            EAST,华东,HYF,海韵府,3,12-02,12,\nEAST,华东,HYF,海韵府,3,1204,twelve,\nEAST,华东,HYF,海韵府,3,1205,12,31/12/2020\n";
        let errors: Vec<String> = import(&db.store, ImportKind::Units, units)
            .await
            .rejected
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "units.csv:2: column `unit`: `12-02` must not contain spaces or '-'",
                "units.csv:3: column `floor`: `twelve` is not a whole number",
                "units.csv:4: column `handover_date`: `31/12/2020` is not a date (YYYY-MM-DD)",
            ]
        );
        let staff = "code,name,role,phone,project_code,categories,head_code\n\
            S100,x,boss,13900000100,,,\nS101,y,responsible,13900000101,HYF,,\nS102,z,responsible,13900000102,HYF,planning_design,S999\n";
        let errors: Vec<String> = import(&db.store, ImportKind::Staff, staff)
            .await
            .rejected
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with(
            "staff.csv:2: column `role`: unknown staff role `boss`; expected one of: responsible,"
        ));
        assert_eq!(
            errors[1],
            "staff.csv:3: column `categories`: a responsible person needs a project_code and categories"
        );
        assert_eq!(
            errors[2],
            "staff.csv:4: column `head_code`: no staff `S999`; the row is kept without a department head"
        );
    }
}
