//! Cutting a list of items into runs for batched calls (PutBlobs, GetBlobs, and the
//! messages of a call): consecutive items, each run within a byte budget and an item
//! limit. An item larger than the budget goes alone.

/// `items` in order, grouped into runs of at most `max_items` whose sizes sum to at most
/// `max_bytes` (or a single item that is larger on its own).
pub(crate) fn group_by_size<T>(
    items: impl IntoIterator<Item = T>,
    size_of: impl Fn(&T) -> u64,
    max_bytes: u64,
    max_items: usize,
) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let size = size_of(&item);
        match out.last_mut() {
            Some(run) if run.len() < max_items && bytes + size <= max_bytes => {
                bytes += size;
                run.push(item);
            }
            _ => {
                bytes = size;
                out.push(vec![item]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::group_by_size;

    #[test]
    fn runs_keep_order_and_both_limits_and_an_oversized_item_goes_alone() {
        let sizes = [3u64, 3, 3, 10, 1, 1, 1, 1];
        let runs = group_by_size(sizes, |s| *s, 6, 3);
        assert_eq!(runs, vec![vec![3, 3], vec![3], vec![10], vec![1, 1, 1], vec![1]]);
        assert!(group_by_size(Vec::<u64>::new(), |s| *s, 6, 3).is_empty());
    }
}
