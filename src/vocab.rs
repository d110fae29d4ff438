//! The domain's closed vocabularies, stored as lowercase text.
//!
//! Each is a `strum` enum: `as_str()` for binding, `FromStr` for parsing user input (the error
//! lists the accepted words), and `TryFrom<String>` so `sqlx::FromRow` can decode the column.

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantNames};

/// A word that is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of: {expected}")]
pub struct UnknownWord {
    /// Which vocabulary.
    pub what: &'static str,
    /// The word given.
    pub value: String,
    /// The accepted words, comma-separated.
    pub expected: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $zh:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, EnumString, IntoStaticStr, VariantNames)]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and API) word.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The Chinese word the users speak.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh),+
                }
            }

            /// Parses a word, accepting the Chinese label too.
            pub fn parse(value: &str) -> Result<$name, UnknownWord> {
                let value = value.trim();
                value
                    .to_ascii_lowercase()
                    .replace(['-', ' '], "_")
                    .parse::<$name>()
                    .ok()
                    .or_else(|| $name::ALL.iter().copied().find(|v| v.label_zh() == value))
                    .ok_or_else(|| UnknownWord {
                        what: $what,
                        value: value.to_string(),
                        expected: <$name as VariantNames>::VARIANTS.join(", "),
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownWord;
            fn try_from(value: String) -> Result<$name, UnknownWord> {
                $name::parse(&value)
            }
        }
    };
}

vocabulary! {
    /// What the owner asks for.
    TicketKind, "ticket kind" {
        /// A question (咨询).
        Consultation = "咨询",
        /// A repair (报修).
        Repair = "报修",
        /// A complaint (投诉).
        Complaint = "投诉",
        /// A service request (服务).
        Service = "服务",
    }
}

vocabulary! {
    /// What the ticket is about; picks the responsible person and the SLA clock.
    Category, "category" {
        /// Materials (材料问题).
        Materials = "材料问题",
        /// Construction quality (工程质量).
        ConstructionQuality = "工程质量",
        /// Planning and design (规划设计).
        PlanningDesign = "规划设计",
        /// Property management (物业).
        PropertyManagement = "物业",
        /// Customer service and sales (客服与销售).
        CustomerServiceSales = "客服与销售",
    }
}

vocabulary! {
    /// Where a ticket stands.
    TicketState, "ticket state" {
        /// Logged, not yet dispatched (新建).
        New = "新建",
        /// Sent to the responsible person (已派单).
        Dispatched = "已派单",
        /// The responsible person replied (已响应).
        Acknowledged = "已响应",
        /// Someone is on site (已到场).
        OnSite = "已到场",
        /// Work reported done (已完成).
        Completed = "已完成",
        /// The owner is being called back (回访中).
        Callback = "回访中",
        /// Closed with the owner's agreement (已关闭).
        Closed = "已关闭",
    }
}

vocabulary! {
    /// Escalation level (投诉分级), in rising order.
    Level, "escalation level" {
        /// General (一般).
        General = "一般",
        /// Key (重点): the department head is told.
        Key = "重点",
        /// Hot (热点): the regional general manager steps in.
        Hot = "热点",
        /// Major (重大): the group vice president.
        Major = "重大",
    }
}

impl Level {
    /// The next level up, or `None` at the top.
    pub fn next(self) -> Option<Level> {
        match self {
            Level::General => Some(Level::Key),
            Level::Key => Some(Level::Hot),
            Level::Hot => Some(Level::Major),
            Level::Major => None,
        }
    }
}

vocabulary! {
    /// What a member of staff does; decides who hears of what.
    StaffRole, "staff role" {
        /// Receives dispatched work for a project and categories (责任人).
        Responsible = "责任人",
        /// Told when a ticket becomes key (部门负责人).
        DepartmentHead = "部门负责人",
        /// Steps in when a ticket becomes hot (地区总经理).
        RegionalGm = "地区总经理",
        /// Hears of major tickets (集团副总裁).
        GroupVp = "集团副总裁",
        /// A hotline agent (坐席).
        Agent = "坐席",
        /// A call-center supervisor (主管).
        Supervisor = "主管",
    }
}

vocabulary! {
    /// Whether a repair is covered (保修).
    Warranty, "warranty" {
        /// Inside the component's warranty: free.
        InWarranty = "保修期内",
        /// Past the warranty: paid service.
        OutOfWarranty = "保修期外",
        /// Not a repair, or the component is unknown.
        NotApplicable = "不适用",
    }
}

vocabulary! {
    /// A way to reach someone.
    Channel, "channel" {
        /// A phone call.
        Voice = "电话",
        /// A text message.
        Sms = "短信",
        /// An email.
        Email = "邮件",
        /// Every channel (for the do-not-call list).
        All = "全部",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_chinese_is_accepted() {
        for state in TicketState::ALL {
            assert_eq!(TicketState::parse(state.as_str()).unwrap(), *state);
            assert_eq!(TicketState::parse(state.label_zh()).unwrap(), *state);
        }
        assert_eq!(
            Category::parse("Construction-Quality").unwrap(),
            Category::ConstructionQuality
        );
    }

    #[test]
    fn unknown_words_list_the_accepted_ones() {
        let err = TicketKind::parse("praise").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown ticket kind `praise`; expected one of: consultation, repair, complaint, service"
        );
    }

    #[test]
    fn levels_rise_in_order() {
        assert_eq!(Level::General.next(), Some(Level::Key));
        assert_eq!(Level::Major.next(), None);
        assert!(Level::Hot > Level::Key);
    }
}
