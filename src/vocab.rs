//! The domain's closed vocabularies, stored as lowercase text.
//!
//! Each is an enum with one `as_str()` for binding and one `FromStr` (the exact stored word) for
//! reading back; `parse` is the lenient reading of user input (case, dashes, the Chinese label),
//! its error listing the accepted words. A word read from the database goes through [`stored`],
//! so an unknown one is a [`DamagedRow`] naming table, row and column, never a default.

use serde::{Deserialize, Serialize};
use strum::{IntoStaticStr, VariantNames};

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

/// A word read back from the database that is not in its vocabulary: the row is damaged (or
/// written by a newer version). Reading it is an error naming the row, never a default, so a
/// damaged outcome cannot quietly turn into "unreached" or "sms".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} row {id}, column `{column}`: {word}")]
pub struct DamagedRow {
    /// The table.
    pub table: &'static str,
    /// The row's id.
    pub id: i64,
    /// The column holding the word.
    pub column: &'static str,
    /// The word and the vocabulary it is not in.
    pub word: UnknownWord,
}

impl UnknownWord {
    /// This word as found in `table`'s row `id`, column `column`.
    pub fn in_row(self, table: &'static str, id: i64, column: &'static str) -> DamagedRow {
        DamagedRow {
            table,
            id,
            column,
            word: self,
        }
    }
}

/// Parses a stored word of `T` read from `table`'s row `id`, column `column`.
pub fn stored<T>(
    word: &str,
    table: &'static str,
    id: i64,
    column: &'static str,
) -> Result<T, DamagedRow>
where
    T: std::str::FromStr<Err = UnknownWord>,
{
    word.parse::<T>().map_err(|e| e.in_row(table, id, column))
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $zh:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, IntoStaticStr, VariantNames)]
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

        impl std::str::FromStr for $name {
            type Err = UnknownWord;
            /// Exactly the stored word (no Chinese, no case folding): what the store holds.
            fn from_str(value: &str) -> Result<$name, UnknownWord> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == value)
                    .ok_or_else(|| UnknownWord {
                        what: $what,
                        value: value.to_string(),
                        expected: <$name as VariantNames>::VARIANTS.join(", "),
                    })
            }
        }

        impl PartialEq<&str> for $name {
            /// Whether this is the stored word `other` (for comparisons with literals).
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
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

vocabulary! {
    /// How a contact's attempt ended (the `attempts.outcome` column) and how a contact was
    /// finished (`campaign_contacts.final_outcome`): the SIP endings, the dialer's own words for
    /// calls, and a message turn's ending.
    AttemptOutcome, "attempt outcome" {
        /// The callee answered (and, with agents, was bridged).
        Answered = "接通",
        /// The line was busy.
        Busy = "忙线",
        /// It rang until the ring time-out.
        NoAnswer = "无人接听",
        /// The number does not exist.
        InvalidNumber = "空号",
        /// The callee declined.
        Rejected = "拒接",
        /// The network was congested.
        Congestion = "网络拥塞",
        /// The callee was unreachable.
        Unavailable = "无法接通",
        /// The call was cancelled before an answer.
        Cancelled = "已取消",
        /// No final answer came in time.
        Timeout = "超时",
        /// The trunk refused our credentials.
        AuthFailed = "认证失败",
        /// Any other failure.
        Failed = "失败",
        /// An answering machine picked up.
        Machine = "答录机",
        /// Answered, and no agent was free within the connect rule.
        Abandoned = "放弃",
        /// Cut short by a restart after the INVITE went out.
        Interrupted = "中断",
        /// An answered survey the owner left before its last question.
        Incomplete = "未完成",
        /// An answered survey that asked everything (final).
        Completed = "已完成",
        /// Cut short before the INVITE went out (due again at once, not counted).
        NotDialed = "未拨出",
        /// A message turn whose message is not final yet (the outbox has it).
        Queued = "排队",
        /// A message handed to its gateway, no receipt (yet).
        Sent = "已发送",
        /// A message the handset or mailbox confirmed.
        Delivered = "已送达",
        /// A message whose fate the gateway could not tell.
        Unknown = "未知",
        /// A message withheld (the address opted out).
        Suppressed = "已屏蔽",
        /// A survey message delivered and never answered.
        NoReply = "未回复",
        /// A message never sent while the contact waited (no gateway took it).
        Unsent = "未发出",
        /// The number is on the do-not-call list.
        Dnc = "免打扰",
        /// The owner withdrew consent for the channel.
        NoConsent = "未同意",
        /// The campaign's call windows never open again.
        NoWindow = "无时段",
        /// An email turn for an owner without an address.
        NoEmail = "无邮箱",
    }
}

vocabulary! {
    /// Where an outbox message stands (the `outbox.state` and `outbox_parts.state` columns).
    MessageState, "message state" {
        /// Waiting to be sent (again).
        Queued = "排队",
        /// Leased to a worker, not yet sent.
        Claimed = "已领取",
        /// Being handed to its gateway.
        Sending = "发送中",
        /// Accepted by the gateway.
        Sent = "已发送",
        /// Confirmed by a receipt.
        Delivered = "已送达",
        /// Refused for good.
        Failed = "失败",
        /// Cut off mid-send: the gateway may or may not have it.
        Unknown = "未知",
        /// Not sent: the address opted out.
        Suppressed = "已屏蔽",
    }
}

impl From<MessageState> for AttemptOutcome {
    /// A final message's state as its campaign attempt's outcome.
    fn from(state: MessageState) -> AttemptOutcome {
        match state {
            MessageState::Sent => AttemptOutcome::Sent,
            MessageState::Delivered => AttemptOutcome::Delivered,
            MessageState::Unknown => AttemptOutcome::Unknown,
            MessageState::Suppressed => AttemptOutcome::Suppressed,
            MessageState::Failed
            | MessageState::Queued
            | MessageState::Claimed
            | MessageState::Sending => AttemptOutcome::Failed,
        }
    }
}

vocabulary! {
    /// What a callback survey says about its ticket (the `survey_verdicts.verdict` column).
    Verdict, "verdict" {
        /// Rated at or above the satisfied threshold.
        Satisfied = "满意",
        /// Rated between the thresholds.
        Neutral = "一般",
        /// Rated at or below the unsatisfied threshold.
        Unsatisfied = "不满意",
        /// Never rated: every attempt was spent.
        Unreached = "未接通",
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
    fn a_damaged_stored_word_names_its_row() {
        assert_eq!(
            stored::<Verdict>("unreached", "survey_verdicts", 7, "verdict"),
            Ok(Verdict::Unreached)
        );
        // The stored word is exact: the lenient reading is for people, not for rows.
        let err = stored::<Verdict>("Unreached", "survey_verdicts", 7, "verdict").unwrap_err();
        assert_eq!(
            err.to_string(),
            "survey_verdicts row 7, column `verdict`: unknown verdict `Unreached`; expected one \
             of: satisfied, neutral, unsatisfied, unreached"
        );
        for outcome in AttemptOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<AttemptOutcome>(), Ok(*outcome));
        }
    }

    #[test]
    fn levels_rise_in_order() {
        assert_eq!(Level::General.next(), Some(Level::Key));
        assert_eq!(Level::Major.next(), None);
        assert!(Level::Hot > Level::Key);
    }
}
