//! Typed filter values: casting query strings the way Strapi's `parseType`
//! does (booleans, integers, ISO dates to the store's epoch milliseconds),
//! and the SQL or in-memory comparison for one operator.

use portcullis_store::SqlValue;

use super::filters::in_list;
use super::ops::Op;
use crate::error::ApiError;

/// How an attribute is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    /// `0`/`1` in the store.
    Bool,
    /// Epoch milliseconds in the store; ISO 8601 or a timestamp in queries.
    Date,
}

/// A cast value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Val {
    Int(i64),
    Text(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Int(i) => i.to_string(),
            Val::Text(s) => s.clone(),
        }
    }
}

/// Strapi's boolean cast (its error text; Strapi answers it with a 500,
/// the gateway with a 400).
pub fn parse_bool(s: &str) -> Result<bool, ApiError> {
    match s {
        "true" | "t" | "1" => Ok(true),
        "false" | "f" | "0" => Ok(false),
        _ => Err(ApiError::validation(
            r#"Invalid boolean input. Expected "t","1","true","false","0","f""#,
        )),
    }
}

/// An integer as lodash's `toNumber` reads one (`" 7 "`, `"7.0"`, `"1e3"`).
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let f = t
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && f.fract() == 0.0)?;
    // In range: the cast cannot saturate.
    (f.abs() < 9.0e15).then_some(f as i64)
}

/// Casts a query string for a comparison on an attribute of `kind`.
pub fn to_val(kind: Kind, op: Op, s: &str) -> Result<Val, ApiError> {
    if op.is_textual() {
        return Ok(Val::Text(s.to_owned()));
    }
    match kind {
        Kind::Text => Ok(Val::Text(s.to_owned())),
        Kind::Int => parse_int(s)
            .map(Val::Int)
            .ok_or_else(|| ApiError::validation("Invalid number input. Expected an integer")),
        Kind::Bool => parse_bool(s).map(|b| Val::Int(i64::from(b))),
        Kind::Date => parse_date(s).map(Val::Int).ok_or_else(|| {
            ApiError::validation("Invalid format, expected a timestamp or an ISO date")
        }),
    }
}

/// Epoch milliseconds of an ISO 8601 date or date-time (UTC unless an
/// offset is given), or of a numeric millisecond timestamp.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() > 8 {
        return s.parse().ok();
    }
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (date, rest) = s.split_at(s.len().min(10));
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if date.len() != 10 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) else {
        return rest.is_empty().then_some(ms);
    };
    let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.split(':');
    let h = num(hms.next()?)?;
    let mi = num(hms.next()?)?;
    let sec = hms.next().map_or(Some(0), num)?;
    if hms.next().is_some() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let frac_ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        num(frac).and(num(&digits))?
    };
    ms += ((h * 60 + mi) * 60 + sec) * 1000 + frac_ms;
    let offset_min = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let body = z[1..].replace(':', "");
            let (hh, mm) = body.split_at(body.len().min(2));
            sign * (num(hh)? * 60 + if mm.is_empty() { 0 } else { num(mm)? })
        }
    };
    Some(ms - offset_min * 60_000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Pushes a value and returns its placeholder.
pub fn bind(v: Val, binds: &mut Vec<SqlValue>) -> String {
    binds.push(match v {
        Val::Int(i) => SqlValue::Int(i),
        Val::Text(s) => SqlValue::Text(s),
    });
    format!("${}", binds.len())
}

/// A `LIKE` pattern matching `s` literally (`%`, `_` and `\` escaped).
fn like(prefix: &str, s: &str, suffix: &str) -> Val {
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str(prefix);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str(suffix);
    Val::Text(out)
}

/// SQL for one comparison on column `sql` (a name from the fixed tables).
pub fn cmp_sql(sql: &str, kind: Kind, op: Op, vals: &[Val], binds: &mut Vec<SqlValue>) -> String {
    let c = if op.is_textual() && kind != Kind::Text {
        format!("CAST({sql} AS TEXT)")
    } else {
        sql.to_owned()
    };
    let first = vals.first().cloned().unwrap_or(Val::Text(String::new()));
    let text = first.text();
    let mut one = |v: Val| bind(v, binds);
    match op {
        Op::Null => format!("{c} IS NULL"),
        Op::NotNull => format!("{c} IS NOT NULL"),
        Op::Eq => format!("{c} = {}", one(first)),
        Op::Ne => format!("{c} <> {}", one(first)),
        Op::Lt => format!("{c} < {}", one(first)),
        Op::Lte => format!("{c} <= {}", one(first)),
        Op::Gt => format!("{c} > {}", one(first)),
        Op::Gte => format!("{c} >= {}", one(first)),
        Op::Eqi => format!("LOWER({c}) = LOWER({})", one(first)),
        Op::Nei => format!("LOWER({c}) <> LOWER({})", one(first)),
        Op::Contains => format!("{c} LIKE {} ESCAPE '\\'", one(like("%", &text, "%"))),
        Op::NotContains => format!("{c} NOT LIKE {} ESCAPE '\\'", one(like("%", &text, "%"))),
        Op::StartsWith => format!("{c} LIKE {} ESCAPE '\\'", one(like("", &text, "%"))),
        Op::EndsWith => format!("{c} LIKE {} ESCAPE '\\'", one(like("%", &text, ""))),
        Op::Containsi => format!(
            "LOWER({c}) LIKE LOWER({}) ESCAPE '\\'",
            one(like("%", &text, "%"))
        ),
        Op::NotContainsi => {
            format!(
                "LOWER({c}) NOT LIKE LOWER({}) ESCAPE '\\'",
                one(like("%", &text, "%"))
            )
        }
        Op::StartsWithi => format!(
            "LOWER({c}) LIKE LOWER({}) ESCAPE '\\'",
            one(like("", &text, "%"))
        ),
        Op::EndsWithi => format!(
            "LOWER({c}) LIKE LOWER({}) ESCAPE '\\'",
            one(like("%", &text, ""))
        ),
        Op::Between => {
            let second = vals.get(1).cloned().unwrap_or_else(|| first.clone());
            let (a, b) = (one(first), one(second));
            format!("{c} BETWEEN {a} AND {b}")
        }
        Op::In => in_list(&c, vals, binds, false),
        Op::NotIn => in_list(&c, vals, binds, true),
    }
}

/// The same comparison on an in-memory value (role attributes).
pub fn eval_cmp(v: &Val, op: Op, vals: &[Val]) -> bool {
    let first = vals.first();
    let text = v.text();
    let arg = first.map(Val::text).unwrap_or_default();
    let (lower, larg) = (text.to_lowercase(), arg.to_lowercase());
    let same_kind = |a: &Val| std::mem::discriminant(a) == std::mem::discriminant(v);
    let ord =
        |f: fn(std::cmp::Ordering) -> bool| first.is_some_and(|a| same_kind(a) && f(v.cmp(a)));
    match op {
        Op::Null => false,
        Op::NotNull => true,
        Op::Eq => first == Some(v),
        Op::Ne => first != Some(v),
        Op::Lt => ord(|o| o.is_lt()),
        Op::Lte => ord(|o| o.is_le()),
        Op::Gt => ord(|o| o.is_gt()),
        Op::Gte => ord(|o| o.is_ge()),
        Op::Eqi => lower == larg,
        Op::Nei => lower != larg,
        Op::In => vals.contains(v),
        Op::NotIn => !vals.contains(v),
        Op::Between => match (vals.first(), vals.get(1)) {
            (Some(a), Some(b)) => same_kind(a) && same_kind(b) && a <= v && v <= b,
            _ => false,
        },
        Op::Contains => text.contains(&arg),
        Op::NotContains => !text.contains(&arg),
        Op::Containsi => lower.contains(&larg),
        Op::NotContainsi => !lower.contains(&larg),
        Op::StartsWith => text.starts_with(&arg),
        Op::StartsWithi => lower.starts_with(&larg),
        Op::EndsWith => text.ends_with(&arg),
        Op::EndsWithi => lower.ends_with(&larg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2026-03-04T10:30:00.123Z"),
            Some(1_772_620_200_123)
        );
        assert_eq!(
            parse_date("2026-03-04T12:30:00+02:00"),
            Some(1_772_620_200_000)
        );
        assert_eq!(parse_date("2026-03-04T10:30Z"), Some(1_772_620_200_000));
        assert_eq!(parse_date("1772620200123"), Some(1_772_620_200_123));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-03-04T25:00:00Z"), None);
        assert_eq!(parse_date("x' OR 1=1 --"), None);
    }

    #[test]
    fn like_patterns_are_literal() {
        let mut binds = Vec::new();
        let sql = cmp_sql(
            "username",
            Kind::Text,
            Op::Contains,
            &[Val::Text("a%_\\".into())],
            &mut binds,
        );
        assert_eq!(sql, "username LIKE $1 ESCAPE '\\'");
        assert_eq!(binds, vec![SqlValue::Text("%a\\%\\_\\\\%".into())]);
    }

    #[test]
    fn casts() {
        assert_eq!(parse_int(" 7 "), Some(7));
        assert_eq!(parse_int("7.0"), Some(7));
        assert_eq!(parse_int("7.5"), None);
        assert!(parse_bool("yes").is_err());
    }
}
