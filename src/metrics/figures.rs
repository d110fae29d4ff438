//! The counts of one group and the rates made of them.
//!
//! Only counts are stored: they add up across groups (the total is their sum) and a rate with
//! nothing to divide by is `None`, never a made-up 0 % or 100 %.

use serde::Serialize;

/// The plain counts of one group over a period; see README "Metrics" for each definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Tickets with a `complete` event in the period (closure rate's denominator).
    pub completed: i64,
    /// Of those, closed now.
    pub closed: i64,
    /// Tickets whose first rated survey verdict ever was decided in the period.
    pub first_rated: i64,
    /// Of those, the first verdict was `satisfied`.
    pub first_satisfied: i64,
    /// Verdicts decided in the period with rating 1, 2, 3, 4, 5.
    pub ratings: [i64; 5],
    /// Tickets opened in the period (SLA and escalation denominators).
    pub opened: i64,
    /// Of those, the reply deadline is decided: replied, or past due now.
    pub ack_measured: i64,
    /// Of those, replied by the deadline.
    pub ack_in_time: i64,
    /// Of those opened, the on-site deadline is decided: arrived, or past due now.
    pub onsite_measured: i64,
    /// Of those, on site by the deadline.
    pub onsite_in_time: i64,
    /// Of those opened, escalated at least once.
    pub escalated: i64,
    /// Callback contacts (with a ticket) with an attempt dialled in the period.
    pub callbacks_attempted: i64,
    /// Of those, an attempt of the period was answered by a person (not a machine).
    pub callbacks_connected: i64,
    /// Of those, an attempt of the period finished the survey (`completed`).
    pub callbacks_completed: i64,
    /// Attempts answered by a person (not a machine) in the period, whenever dialled: the
    /// one abandon rule of `metrics::abandon`.
    pub answered: i64,
    /// Of those, `abandoned`: no agent was free in time.
    pub abandoned: i64,
}

/// The shares made of [`Figures`], `None` where the denominator is empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    /// 关闭率: closed / completed.
    pub closure_rate: Option<f64>,
    /// 一次满意度: first_satisfied / first_rated.
    pub first_contact_satisfaction: Option<f64>,
    /// The mean of the ratings of the period.
    pub average_rating: Option<f64>,
    /// 及时率 (reply): ack_in_time / ack_measured.
    pub ack_rate: Option<f64>,
    /// 及时率 (on site): onsite_in_time / onsite_measured.
    pub onsite_rate: Option<f64>,
    /// 升级率: escalated / opened.
    pub escalation_rate: Option<f64>,
    /// 接通率: callbacks_connected / callbacks_attempted.
    pub connect_rate: Option<f64>,
    /// Survey completion: callbacks_completed / callbacks_connected.
    pub completion_rate: Option<f64>,
    /// Abandon %: abandoned / answered.
    pub abandon_rate: Option<f64>,
}

/// `part / whole`, or `None` when there is no whole.
fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Figures {
    /// 关闭率: of the tickets completed in the period, the share closed now.
    pub fn closure_rate(&self) -> Option<f64> {
        share(self.closed, self.completed)
    }

    /// 一次满意度: of the tickets first rated in the period, the share satisfied that first time.
    pub fn first_contact_satisfaction(&self) -> Option<f64> {
        share(self.first_satisfied, self.first_rated)
    }

    /// How many verdicts of the period carry a rating.
    pub fn rated(&self) -> i64 {
        self.ratings.iter().sum()
    }

    /// The mean rating (1..5) of the verdicts of the period.
    pub fn average_rating(&self) -> Option<f64> {
        let points: i64 = (1..).zip(self.ratings).map(|(r, n)| r * n).sum();
        share(points, self.rated())
    }

    /// 及时率 of the reply: of the decided reply deadlines, the share met.
    pub fn ack_rate(&self) -> Option<f64> {
        share(self.ack_in_time, self.ack_measured)
    }

    /// 及时率 on site: of the decided on-site deadlines, the share met.
    pub fn onsite_rate(&self) -> Option<f64> {
        share(self.onsite_in_time, self.onsite_measured)
    }

    /// 升级率: of the tickets opened in the period, the share escalated at least once.
    pub fn escalation_rate(&self) -> Option<f64> {
        share(self.escalated, self.opened)
    }

    /// 接通率 of the callbacks: connected / attempted.
    pub fn connect_rate(&self) -> Option<f64> {
        share(self.callbacks_connected, self.callbacks_attempted)
    }

    /// Survey completion: of the connected callbacks, the share that finished the survey.
    pub fn completion_rate(&self) -> Option<f64> {
        share(self.callbacks_completed, self.callbacks_connected)
    }

    /// Abandon %: of the attempts answered by a person, the share no agent took in time.
    pub fn abandon_rate(&self) -> Option<f64> {
        share(self.abandoned, self.answered)
    }

    /// Every rate at once (for JSON).
    pub fn rates(&self) -> Rates {
        Rates {
            closure_rate: self.closure_rate(),
            first_contact_satisfaction: self.first_contact_satisfaction(),
            average_rating: self.average_rating(),
            ack_rate: self.ack_rate(),
            onsite_rate: self.onsite_rate(),
            escalation_rate: self.escalation_rate(),
            connect_rate: self.connect_rate(),
            completion_rate: self.completion_rate(),
            abandon_rate: self.abandon_rate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_denominators_give_no_rate() {
        let rates = Figures::default().rates();
        assert_eq!(rates, Rates::default());
    }

    #[test]
    fn the_average_is_weighted_by_the_distribution() {
        let f = Figures {
            ratings: [0, 1, 0, 1, 1],
            ..Figures::default()
        };
        assert_eq!(f.rated(), 3);
        assert_eq!(f.average_rating(), Some(11.0 / 3.0));
    }
}
