#![allow(clippy::unwrap_used)]
use super::*;

fn args(block_size: Option<&str>) -> PushArgs {
    PushArgs {
        file: PathBuf::from("app.bin"),
        dest: "/srv/app.bin".into(),
        mode: "0644".into(),
        block_size: block_size.map(str::to_string),
        where_: Vec::new(),
    }
}

#[test]
fn the_block_size_advice_names_a_size_the_client_accepts() {
    let size = 2 << 30;
    let e = block_size(&args(Some("64K")), size)
        .unwrap_err()
        .to_string();
    let advised = e
        .split("use a block size of at least ")
        .nth(1)
        .unwrap_or_else(|| panic!("no advice in {e:?}"));
    let bs = block_size(&args(Some(advised)), size).unwrap();
    assert!(
        u64::from(bs) * geometry::MAX_BLOCKS as u64 >= size,
        "{advised}"
    );
    assert_eq!(block_size(&args(None), size).unwrap(), MAX_BLOCK_SIZE);
    let e = block_size(&args(Some("1M")), 1).unwrap_err().to_string();
    assert_eq!(e, "--block-size must be between 4K and 512K");
    let e = block_size(&args(None), geometry::MAX_FILE_SIZE + 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the largest pushable file is"), "{e}");
}
