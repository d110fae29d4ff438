//! `huifang lookup --phone N` and `huifang lookup --unit CODE --component NAME`

use std::process::ExitCode;

use clap::Args;

use super::output::{json, table, ticket_table};
use crate::audit::{AuditAction, AuditEntry, AuditLog};
use crate::contacts::component_info;
use crate::desktop::screen_pop;
use crate::phone::Phone;
use crate::store::Store;

/// Arguments of `lookup`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["phone", "unit"])))]
pub struct LookupArgs {
    /// The caller's number: owner, units, open tickets and history.
    #[arg(long)]
    phone: Option<String>,
    /// A unit code (PROJECT-BUILDING-UNIT), with `--component`.
    #[arg(long, requires = "component")]
    unit: Option<String>,
    /// The component (kitchen, windows, ...): supplier and warranty.
    #[arg(long)]
    component: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(store: &Store, args: LookupArgs) -> anyhow::Result<ExitCode> {
    if let Some(raw) = &args.phone {
        let phone = Phone::parse(raw)?;
        let Some(pop) = screen_pop(store, &phone).await? else {
            eprintln!("no owner has the number {phone}");
            return Ok(ExitCode::from(1));
        };
        let actor = super::user::cli_actor();
        let entry = AuditEntry {
            actor: &actor,
            action: AuditAction::OwnerLookup,
            target: &format!("owner:{}", pop.owner.owner_id),
            address: "",
            detail: &phone.to_string(),
        };
        AuditLog::new(store)
            .record(&entry, chrono::Utc::now())
            .await?;
        if args.json {
            json(&pop)?;
            return Ok(ExitCode::SUCCESS);
        }
        let o = &pop.owner;
        println!(
            "{} ({})  phones: {}  email: {}  language: {}",
            o.name,
            o.code,
            pop.phones.join(", "),
            o.email.as_deref().unwrap_or("-"),
            o.language
        );
        let mut units = table(&["unit", "project", "building", "region", "handover"]);
        for u in &pop.units {
            units.add_row(vec![
                u.code.clone(),
                u.project_name.clone(),
                u.building.clone(),
                u.region_name.clone(),
                u.handover_date
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "not yet".into()),
            ]);
        }
        println!("{units}");
        println!("open tickets: {}", pop.open_tickets.len());
        if !pop.open_tickets.is_empty() {
            println!("{}", ticket_table(&pop.open_tickets));
        }
        println!("past tickets: {}", pop.past_tickets.len());
        if !pop.past_tickets.is_empty() {
            println!("{}", ticket_table(&pop.past_tickets));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(unit), Some(component)) = (&args.unit, &args.component) else {
        anyhow::bail!("give --phone, or --unit with --component");
    };
    let Some(info) = component_info(store, unit, component, chrono::Utc::now()).await? else {
        eprintln!("unit {unit} has no component `{component}` on record");
        return Ok(ExitCode::from(1));
    };
    if args.json {
        json(&info)?;
    } else {
        let status = match info.warranty {
            crate::contacts::WarrantyStatus::InWarranty { until } => {
                format!("in warranty until {until} (free repair)")
            }
            crate::contacts::WarrantyStatus::Expired { until } => {
                format!("warranty ended {until} (paid service)")
            }
            crate::contacts::WarrantyStatus::NotHandedOver => {
                "not handed over yet (developer's defect)".into()
            }
        };
        println!(
            "{} {}: supplier {} {} ({}), {} months; {}",
            info.unit_code,
            info.component,
            info.supplier_code,
            info.supplier_name,
            info.supplier_phone.as_deref().unwrap_or("-"),
            info.warranty_months,
            status
        );
    }
    Ok(ExitCode::SUCCESS)
}
