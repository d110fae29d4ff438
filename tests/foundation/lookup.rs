//! Screen pop by phone, and supplier plus warranty by unit and component.

use chrono::Duration;
use huifang::contacts::{WarrantyStatus, component_info};
use huifang::desktop::screen_pop;
use huifang::phone::Phone;
use huifang::tickets::OpenTicket;
use huifang::vocab::{Category, TicketKind};
use testkit::db::databases;

use crate::helpers::{desk, morning, small_world};

#[tokio::test]
async fn screen_pop_shows_owner_units_and_tickets_in_one_call() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, _clock) = desk(&db.store);
        let request = |description: &str| OpenTicket {
            phone: Some("13812345679".into()),
            owner: None,
            unit: Some("HYF-3-1203".into()),
            kind: TicketKind::Consultation,
            category: Category::CustomerServiceSales,
            component: None,
            description: description.into(),
            owner_on_site: false,
            actor: "agent".into(),
        };
        let done = desk.open(request("产权证进度")).await.unwrap();
        desk.close(done.ticket_id, "agent", "answered")
            .await
            .unwrap();
        let open = desk.open(request("车位咨询")).await.unwrap();

        let pop = screen_pop(&db.store, &Phone::parse("+86 138 1234 5679").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pop.owner.name, "Li Na", "{}", db.name);
        assert_eq!(
            pop.units
                .iter()
                .map(|u| u.code.as_str())
                .collect::<Vec<_>>(),
            ["HYF-3-1202", "HYF-3-1203"]
        );
        assert_eq!(pop.units[0].project_name, "海韵府");
        assert_eq!(pop.units[1].handover_date, None);
        assert_eq!(
            pop.open_tickets
                .iter()
                .map(|t| t.ticket_id)
                .collect::<Vec<_>>(),
            [open.ticket_id]
        );
        assert_eq!(
            pop.past_tickets
                .iter()
                .map(|t| t.ticket_id)
                .collect::<Vec<_>>(),
            [done.ticket_id]
        );

        let landline = screen_pop(&db.store, &Phone::parse("02164001234").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(landline.owner.code, "O00001");
        assert_eq!(landline.phones, ["+8613812345678", "+862164001234"]);
        assert!(
            screen_pop(&db.store, &Phone::parse("13000000000").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn component_lookup_names_the_supplier_and_the_warranty() {
    for db in databases().await {
        small_world(&db.store).await;
        let info = component_info(&db.store, "HYF-3-1202", "Kitchen", morning())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (info.supplier_code.as_str(), info.supplier_name.as_str()),
            ("SUP01", "美家橱柜有限公司"),
            "{}",
            db.name
        );
        assert_eq!(info.supplier_phone.as_deref(), Some("+862155550101"));
        assert!(matches!(info.warranty, WarrantyStatus::InWarranty { .. }));
        let later = component_info(
            &db.store,
            "HYF-3-1202",
            "light_fitting",
            morning() + Duration::days(200),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(matches!(later.warranty, WarrantyStatus::Expired { .. }));
        let unhanded = component_info(&db.store, "HYF-3-1203", "kitchen", morning())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unhanded.warranty, WarrantyStatus::NotHandedOver);
        assert!(
            component_info(&db.store, "HYF-3-1202", "sauna", morning())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn do_not_call_blocks_its_channel_or_all() {
    use huifang::contacts::dnc;
    use huifang::vocab::Channel;
    for db in databases().await {
        let phone = Phone::parse("13812345678").unwrap();
        assert!(
            !dnc::is_blocked(&db.store, &phone, Channel::Voice)
                .await
                .unwrap()
        );
        dnc::add(&db.store, &phone, Channel::Sms, "回复退订", morning())
            .await
            .unwrap();
        assert!(
            dnc::is_blocked(&db.store, &phone, Channel::Sms)
                .await
                .unwrap(),
            "{}",
            db.name
        );
        assert!(
            !dnc::is_blocked(&db.store, &phone, Channel::Voice)
                .await
                .unwrap()
        );
        dnc::add(&db.store, &phone, Channel::All, "投诉骚扰", morning())
            .await
            .unwrap();
        dnc::add(&db.store, &phone, Channel::All, "again", morning())
            .await
            .unwrap();
        for channel in [Channel::Voice, Channel::Sms, Channel::Email] {
            assert!(dnc::is_blocked(&db.store, &phone, channel).await.unwrap());
        }
        assert_eq!(dnc::list(&db.store).await.unwrap().len(), 2);
        assert!(dnc::remove(&db.store, &phone, Channel::All).await.unwrap());
        assert!(!dnc::remove(&db.store, &phone, Channel::All).await.unwrap());
        assert!(
            !dnc::is_blocked(&db.store, &phone, Channel::Voice)
                .await
                .unwrap()
        );
    }
}
