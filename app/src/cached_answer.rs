//! A cached aggregate as a server function answers it. On the server it carries the JSON the
//! cache made once when the value was stored ([`crate::cache::Cached`]), and every answer
//! writes that JSON as it is: no copy of the value and no serialisation per request. In the
//! browser it is read into the value.

use std::ops::Deref;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

#[derive(Debug, Clone)]
pub struct CachedAnswer<T> {
    value: Arc<T>,
    /// The value's JSON, when the value came from the cache.
    json: Option<Arc<RawValue>>,
}

impl<T: Clone> CachedAnswer<T> {
    /// The value itself (copied only when someone else holds it too: on the server).
    pub fn into_value(self) -> T {
        Arc::unwrap_or_clone(self.value)
    }
}

#[cfg(feature = "ssr")]
impl<T> From<crate::cache::Cached<T>> for CachedAnswer<T> {
    fn from(cached: crate::cache::Cached<T>) -> Self {
        Self {
            value: cached.value,
            json: Some(cached.json),
        }
    }
}

impl<T> Deref for CachedAnswer<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Serialize for CachedAnswer<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.json {
            Some(json) => json.serialize(serializer),
            None => self.value.serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for CachedAnswer<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            value: Arc::new(T::deserialize(deserializer)?),
            json: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Stats {
        open: i64,
        sites: Vec<String>,
    }

    #[test]
    fn the_stored_json_is_the_answer_and_reads_back_as_the_value() {
        let stats = Stats {
            open: 3,
            sites: vec!["site-1".into()],
        };
        let json = serde_json::to_string(&stats).unwrap();
        let answer = CachedAnswer {
            value: Arc::new(stats.clone()),
            json: Some(Arc::from(RawValue::from_string(json.clone()).unwrap())),
        };
        assert_eq!(serde_json::to_string(&answer).unwrap(), json);
        let read: CachedAnswer<Stats> = serde_json::from_str(&json).unwrap();
        assert_eq!(read.into_value(), stats);
    }
}
