//! IAM's `Marker`/`MaxItems` pagination over lists the domain has already filtered and put
//! in order. A marker is the sort key of the first item of the next page, so a page stays
//! correct when items before it are deleted between calls.

use super::validate::Violations;
use super::IamError;

/// IAM's page size when the request names none.
const DEFAULT_MAX_ITEMS: i64 = 100;

/// Where a listing starts and how much of it to return.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub marker: Option<String>,
    pub max_items: Option<i64>,
}

/// One page of a listing; `marker` is set exactly when the listing is truncated.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

impl<T> Page<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }
}

impl PageRequest {
    /// Validates the request, then cuts the page out of `items`, which must be sorted by
    /// ascending key.
    pub(crate) fn cut<T>(&self, items: Vec<(String, T)>) -> Result<Page<T>, IamError> {
        let mut violations = Violations::new();
        if let Some(marker) = &self.marker {
            violations.marker("marker", marker);
        }
        if let Some(max) = self.max_items {
            violations.max_items("maxItems", max);
        }
        violations.finish()?;
        let max = usize::try_from(self.max_items.unwrap_or(DEFAULT_MAX_ITEMS)).unwrap_or(1);
        let mut rest = items
            .into_iter()
            .skip_while(|(key, _)| self.marker.as_ref().is_some_and(|m| key < m));
        let items: Vec<T> = rest.by_ref().take(max).map(|(_, item)| item).collect();
        let marker = rest.next().map(|(key, _)| key);
        Ok(Page { items, marker })
    }
}

/// A sort key that orders like `n`, for listings kept in position order.
pub(crate) fn ordinal(n: usize) -> String {
    format!("{n:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(n: usize) -> Vec<(String, usize)> {
        (0..n).map(|i| (ordinal(i), i)).collect()
    }

    #[test]
    fn pages_through_everything_once() {
        let mut seen = Vec::new();
        let mut req = PageRequest {
            marker: None,
            max_items: Some(3),
        };
        loop {
            let page = req.cut(keyed(10)).expect("valid");
            seen.extend(page.items.iter().copied());
            match page.marker {
                Some(m) => req.marker = Some(m),
                None => break,
            }
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn default_and_limits() {
        let page = PageRequest::default().cut(keyed(150)).expect("valid");
        assert_eq!(page.items.len(), 100);
        assert!(page.is_truncated());
        for bad in [0, 1001] {
            let req = PageRequest {
                marker: None,
                max_items: Some(bad),
            };
            assert!(matches!(req.cut(keyed(1)), Err(IamError::Validation(_))));
        }
    }
}
