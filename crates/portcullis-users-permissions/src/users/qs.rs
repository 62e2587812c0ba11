//! The query string as Strapi's Koa app sees it: `qs.parse` with
//! `strictNullHandling`, `depth: 20`, `arrayLimit: 100` and the default
//! `parameterLimit` of 1000. `filters[a][$eq]=x` becomes
//! `{filters: {a: {$eq: "x"}}}`, `a[0]=x&a[1]=y` and `a=x&a=y` become
//! lists, and a key without `=` is `null`.
//!
//! Nesting is bounded (`depth`), so the recursive readers of the tree
//! cannot be driven into deep recursion by a request.

use percent_encoding::percent_decode_str;

/// qs' `depth`: brackets beyond it stay part of the last key.
const MAX_DEPTH: usize = 20;
/// qs' `arrayLimit`: a larger index makes an object key, not a list slot.
const ARRAY_LIMIT: usize = 100;
/// qs' `parameterLimit`: further pairs are ignored.
const PARAMETER_LIMIT: usize = 1000;

/// A parsed query value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Null,
    Str(String),
    List(Vec<Node>),
    /// In insertion order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The entries of a map, or `None`.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A list's items; a scalar reads as a one-item list.
    pub fn items(&self) -> Vec<&Node> {
        match self {
            Node::List(items) => items.iter().collect(),
            Node::Map(m) => m.iter().map(|(_, v)| v).collect(),
            other => vec![other],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// Splits `a[b][c]` into `["a", "b", "c"]` (qs' key parser).
fn segments(key: &str) -> Vec<String> {
    let (head, mut rest) = match key.find('[') {
        Some(0) | None => return vec![key.to_owned()],
        Some(i) => (&key[..i], &key[i..]),
    };
    let mut out = vec![head.to_owned()];
    while out.len() <= MAX_DEPTH {
        let Some(stripped) = rest.strip_prefix('[') else {
            break;
        };
        let Some(end) = stripped.find(']') else { break };
        out.push(stripped[..end].to_owned());
        rest = &stripped[end + 1..];
    }
    if !rest.is_empty() {
        // qs keeps what is beyond `depth` (or malformed) as one more key.
        out.push(rest.to_owned());
    }
    out
}

/// Parses a raw query string.
pub fn parse(query: &str) -> Node {
    let mut root = Node::Map(Vec::new());
    for pair in query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(PARAMETER_LIMIT)
    {
        let (key, value) = match pair.split_once('=') {
            Some((k, v)) => (decode(k), Node::Str(decode(v))),
            None => (decode(pair), Node::Null),
        };
        if key.is_empty() {
            continue;
        }
        insert(&mut root, &segments(&key), value);
    }
    finish(root)
}

fn insert(node: &mut Node, path: &[String], value: Node) {
    let Some((first, rest)) = path.split_first() else {
        merge_leaf(node, value);
        return;
    };
    if !matches!(node, Node::Map(_)) {
        // A scalar that also has children: qs turns it into an object
        // keyed by the scalar; anything keyed so is later refused.
        let old = std::mem::replace(node, Node::Map(Vec::new()));
        if let (Node::Map(m), Some(k)) = (&mut *node, scalar_key(&old)) {
            m.push((k, Node::Str("true".into())));
        }
    }
    let Node::Map(map) = node else { return };
    // `a[]=x` appends: give it the next free numeric key.
    let key = if first.is_empty() {
        map.len().to_string()
    } else {
        first.clone()
    };
    let slot = match map.iter().position(|(k, _)| *k == key) {
        Some(i) => &mut map[i].1,
        None => {
            let fresh = if rest.is_empty() {
                Node::List(Vec::new())
            } else {
                Node::Map(Vec::new())
            };
            map.push((key, fresh));
            let last = map.len() - 1;
            &mut map[last].1
        }
    };
    insert(slot, rest, value);
}

fn scalar_key(node: &Node) -> Option<String> {
    match node {
        Node::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// Sets a leaf. A repeated key collects its values into a list. A fresh
/// slot starts as an empty list, which one value replaces.
fn merge_leaf(node: &mut Node, value: Node) {
    match node {
        Node::List(items) if items.is_empty() => *node = value,
        Node::List(items) => items.push(value),
        Node::Map(m) => {
            if let Some(k) = scalar_key(&value) {
                m.push((k, Node::Str("true".into())));
            }
        }
        other => {
            let old = std::mem::replace(other, Node::Null);
            *other = Node::List(vec![old, value]);
        }
    }
}

/// Turns maps whose keys are all small indices into lists (compacted, in
/// index order), as qs does.
fn finish(node: Node) -> Node {
    match node {
        Node::Map(entries) => {
            let entries: Vec<(String, Node)> =
                entries.into_iter().map(|(k, v)| (k, finish(v))).collect();
            let indices: Option<Vec<usize>> = entries
                .iter()
                .map(|(k, _)| {
                    k.parse::<usize>()
                        .ok()
                        .filter(|i| *i <= ARRAY_LIMIT && i.to_string() == *k)
                })
                .collect();
            match indices {
                Some(idx) if !entries.is_empty() => {
                    let mut pairs: Vec<(usize, Node)> = idx
                        .into_iter()
                        .zip(entries.into_iter().map(|(_, v)| v))
                        .collect();
                    pairs.sort_by_key(|(i, _)| *i);
                    Node::List(pairs.into_iter().map(|(_, v)| v).collect())
                }
                _ => Node::Map(entries),
            }
        }
        Node::List(items) => Node::List(items.into_iter().map(finish).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Str(v.into())
    }

    #[test]
    fn nested_filters_and_lists() {
        let q = parse("filters[username][$eq]=al%20ice&sort[0]=id:desc&sort[1]=email&x=1&x=2&flag");
        let f = q
            .get("filters")
            .and_then(|f| f.get("username"))
            .and_then(|u| u.get("$eq"));
        assert_eq!(f, Some(&s("al ice")));
        assert_eq!(
            q.get("sort"),
            Some(&Node::List(vec![s("id:desc"), s("email")]))
        );
        assert_eq!(q.get("x"), Some(&Node::List(vec![s("1"), s("2")])));
        assert_eq!(q.get("flag"), Some(&Node::Null));
    }

    #[test]
    fn dots_are_not_paths_and_depth_is_bounded() {
        let q = parse("filters[t1.password]=x");
        assert!(
            q.get("filters")
                .and_then(|f| f.get("t1.password"))
                .is_some()
        );
        let deep = format!("a{}=1", "[b]".repeat(40));
        let mut node = parse(&deep);
        let mut depth = 0;
        while let Some(next) = node
            .entries()
            .and_then(|e| e.first())
            .map(|(_, v)| v.clone())
        {
            node = next;
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH + 2);
    }

    #[test]
    fn push_and_sparse_indices() {
        let q = parse("a[]=x&a[]=y&b[5]=z&c[200]=w");
        assert_eq!(q.get("a"), Some(&Node::List(vec![s("x"), s("y")])));
        assert_eq!(q.get("b"), Some(&Node::List(vec![s("z")])));
        assert_eq!(q.get("c"), Some(&Node::Map(vec![("200".into(), s("w"))])));
    }
}
