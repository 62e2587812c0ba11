//! The active policy: `{prefix}:policy` (JSON [`PolicyDoc`]) and
//! `{prefix}:policy:revision` (a counter).

use serde::{Deserialize, Serialize};

use crate::{Error, Fleet, Result};

/// Publishes atomically: unless the active document already has this
/// version, bumps the revision, stores the document and announces it.
/// Returns the active document's JSON.
///
/// KEYS: policy, revision. ARGV: version, sources JSON, events channel.
const PUBLISH_SCRIPT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' and doc.version == ARGV[1] then
    return cur
  end
end
local rev = string.format('%d', redis.call('INCR', KEYS[2]))
local doc = '{"version":' .. cjson.encode(ARGV[1]) .. ',"revision":' .. rev
  .. ',"sources":' .. ARGV[2] .. '}'
redis.call('SET', KEYS[1], doc)
redis.call('PUBLISH', ARGV[3], 'policy ' .. ARGV[1] .. ' ' .. rev)
return doc
"#;

/// A published policy: the policy files' text, so every replica compiles
/// the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDoc {
    /// The content hash of the sources.
    pub version: String,
    /// Increases with every publication across the fleet.
    pub revision: u64,
    /// `(file name, file text)` pairs.
    pub sources: Vec<(String, String)>,
}

impl Fleet {
    /// The active policy (`GET {prefix}:policy`), if one was published.
    pub async fn active_policy(&self) -> Result<Option<PolicyDoc>> {
        let mut conn = self.conn.clone();
        let cmd = redis::Cmd::get(self.key("policy"));
        let raw: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        raw.map(|json| {
            serde_json::from_str(&json).map_err(|source| Error::Decode {
                what: "policy document",
                source,
            })
        })
        .transpose()
    }

    /// Publishes `sources` as the fleet's policy `version` (the content
    /// hash) in one atomic script: `INCR {prefix}:policy:revision`,
    /// `SET {prefix}:policy`, `PUBLISH {prefix}:events "policy <version>
    /// <revision>"`. Returns the stored document.
    ///
    /// Idempotent: if the active document already has `version`, nothing is
    /// written or announced and that document is returned (so replicas
    /// starting with the same files do not bump the revision each).
    pub async fn publish_policy(
        &self,
        version: &str,
        sources: Vec<(String, String)>,
    ) -> Result<PolicyDoc> {
        if version.is_empty() || version.chars().any(char::is_whitespace) {
            return Err(Error::InvalidVersion(version.to_owned()));
        }
        let sources_json = serde_json::to_string(&sources).map_err(|source| Error::Encode {
            what: "policy sources",
            source,
        })?;
        let script = redis::Script::new(PUBLISH_SCRIPT);
        let mut invocation = script.key(self.key("policy"));
        invocation
            .key(self.key("policy:revision"))
            .arg(version)
            .arg(sources_json)
            .arg(self.channel());
        let mut conn = self.conn.clone();
        let json: String = self.run(invocation.invoke_async(&mut conn)).await?;
        serde_json::from_str(&json).map_err(|source| Error::Decode {
            what: "policy document",
            source,
        })
    }
}
