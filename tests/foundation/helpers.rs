//! The foundation tests' own fixtures: a small hand-written world of owners, units, suppliers
//! and staff, a ticket desk on a manual clock. The database per test is `testkit::db`'s.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use huifang::clock::ManualClock;
use huifang::config::SlaPolicy;
use huifang::contacts::import::{ImportKind, ImportReport, import_reader};
use huifang::store::Store;
use huifang::tickets::TicketDesk;

/// Imports CSV text, panicking on a database failure.
pub(crate) async fn import(store: &Store, kind: ImportKind, csv: &str) -> ImportReport {
    import_reader(store, kind, kind.file_name(), csv.as_bytes(), &mut |_| {})
        .await
        .expect("import")
}

/// A small, hand-written world: one region, one project with two units, suppliers, staff.
pub(crate) async fn small_world(store: &Store) {
    let units = "region_code,region_name,project_code,project_name,city,building,unit,floor,area_m2,handover_date\n\
        EAST,华东区域,HYF,海韵府,上海,3,1202,12,89.5,2026-03-15\n\
        EAST,华东区域,HYF,海韵府,上海,3,1203,12,120,\n";
    let suppliers = "code,name,trade,phone,email\nSUP01,美家橱柜有限公司,kitchen,021-55550101,service@sup01.example.cn\n\
        SUP02,光明灯饰有限公司,lighting,13900000002,\n";
    let components = "unit_code,component,supplier_code,warranty_months\n\
        HYF-3-1202,kitchen,SUP01,24\nHYF-3-1202,light_fitting,SUP02,6\nHYF-3-1203,kitchen,SUP01,24\n";
    let staff = "code,name,role,department,phone,email,region_code,project_code,categories,head_code\n\
        S001,周总,group_vp,集团,13900000001,,,,,\n\
        S002,吴经理,regional_gm,华东,13900000003,,EAST,,,\n\
        S003,郑主任,department_head,工程,13900000004,,EAST,HYF,,\n\
        S004,王工,responsible,工程,13900000005,,EAST,HYF,materials;construction_quality,S003\n\
        S005,李管家,responsible,物业,13900000006,,EAST,HYF,property_management,\n";
    let owners = "code,name,phones,email,language,time_zone,consent_voice,consent_sms,consent_email,units\n\
        O00001,张伟,13812345678;021-64001234,zhangwei@example.cn,zh-CN,Asia/Shanghai,1,1,1,HYF-3-1202\n\
        O00002,Li Na,13812345679,,en,Asia/Hong_Kong,1,0,1,HYF-3-1202;HYF-3-1203\n";
    for (kind, csv) in [
        (ImportKind::Units, units),
        (ImportKind::Suppliers, suppliers),
        (ImportKind::Components, components),
        (ImportKind::Staff, staff),
        (ImportKind::Owners, owners),
    ] {
        let report = import(store, kind, csv).await;
        assert!(
            report.rejected.is_empty(),
            "{kind:?}: {:?}",
            report.rejected
        );
    }
}

/// 2026-06-01 09:00 China time.
pub(crate) fn morning() -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A desk on a manual clock standing at [`morning`].
pub(crate) fn desk(store: &Store) -> (TicketDesk, ManualClock) {
    let clock = ManualClock::new(morning());
    (
        TicketDesk::new(store.clone(), Arc::new(clock.clone()), SlaPolicy::default()),
        clock,
    )
}
