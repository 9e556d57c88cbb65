//! An order's life: `pending` → `acknowledged` → `completed` or `failed`; a pending or
//! acknowledged order past its deadline counts as `expired`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Acknowledged,
    Completed,
    Failed,
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Acknowledged,
        OrderStatus::Completed,
        OrderStatus::Failed,
        OrderStatus::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Acknowledged => "acknowledged",
            OrderStatus::Completed => "completed",
            OrderStatus::Failed => "failed",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<OrderStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The status an order must have to become `self` through its appliance, if any.
    pub const fn reached_from(self) -> Option<OrderStatus> {
        match self {
            OrderStatus::Acknowledged => Some(OrderStatus::Pending),
            OrderStatus::Completed | OrderStatus::Failed => Some(OrderStatus::Acknowledged),
            OrderStatus::Pending | OrderStatus::Expired => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus;

    #[test]
    fn each_status_reads_back_from_its_name() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("done"), None);
    }

    #[test]
    fn orders_move_forward_only() {
        use OrderStatus::*;
        assert_eq!(Acknowledged.reached_from(), Some(Pending));
        assert_eq!(Completed.reached_from(), Some(Acknowledged));
        assert_eq!(Failed.reached_from(), Some(Acknowledged));
        assert_eq!(Pending.reached_from(), None, "nothing goes back to pending");
        assert_eq!(
            Expired.reached_from(),
            None,
            "expiry is the deadline, not a request"
        );
    }
}
