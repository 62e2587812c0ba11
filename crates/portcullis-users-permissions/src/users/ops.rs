//! Strapi's filter operators (`$eq`, `$in`, `$containsi`, …) and their
//! names in the query string.

/// Strapi's comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Eqi,
    Ne,
    Nei,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    NotIn,
    Between,
    Contains,
    NotContains,
    Containsi,
    NotContainsi,
    StartsWith,
    StartsWithi,
    EndsWith,
    EndsWithi,
    Null,
    NotNull,
}

pub fn op_named(name: &str) -> Option<Op> {
    Some(match name {
        "$eq" => Op::Eq,
        "$eqi" => Op::Eqi,
        "$ne" => Op::Ne,
        "$nei" => Op::Nei,
        "$lt" => Op::Lt,
        "$lte" => Op::Lte,
        "$gt" => Op::Gt,
        "$gte" => Op::Gte,
        "$in" => Op::In,
        "$notIn" => Op::NotIn,
        "$between" => Op::Between,
        "$contains" => Op::Contains,
        "$notContains" => Op::NotContains,
        "$containsi" => Op::Containsi,
        "$notContainsi" => Op::NotContainsi,
        "$startsWith" => Op::StartsWith,
        "$startsWithi" => Op::StartsWithi,
        "$endsWith" => Op::EndsWith,
        "$endsWithi" => Op::EndsWithi,
        "$null" => Op::Null,
        "$notNull" => Op::NotNull,
        _ => return None,
    })
}

impl Op {
    /// Operators that compare text, whatever the column's type.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            Op::Eqi
                | Op::Nei
                | Op::Contains
                | Op::NotContains
                | Op::Containsi
                | Op::NotContainsi
                | Op::StartsWith
                | Op::StartsWithi
                | Op::EndsWith
                | Op::EndsWithi
        )
    }
}

/// The query-string name of an operator (for error details).
pub fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "$eq",
        Op::Eqi => "$eqi",
        Op::Ne => "$ne",
        Op::Nei => "$nei",
        Op::Lt => "$lt",
        Op::Lte => "$lte",
        Op::Gt => "$gt",
        Op::Gte => "$gte",
        Op::In => "$in",
        Op::NotIn => "$notIn",
        Op::Between => "$between",
        Op::Contains => "$contains",
        Op::NotContains => "$notContains",
        Op::Containsi => "$containsi",
        Op::NotContainsi => "$notContainsi",
        Op::StartsWith => "$startsWith",
        Op::StartsWithi => "$startsWithi",
        Op::EndsWith => "$endsWith",
        Op::EndsWithi => "$endsWithi",
        Op::Null => "$null",
        Op::NotNull => "$notNull",
    }
}
