#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".mon-push-"))
        .collect()
}

fn mode_of(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn lands_blocks_written_out_of_order_with_the_mode_asked() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("app.bin");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let mut l = Landing::create(d.path(), &dest, data.len() as u64).unwrap();
    let tmp = l.temp_path();
    let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
    assert!(tmp_name.starts_with(".app.bin.mon-push-"), "{tmp_name}");
    assert_eq!(tmp.parent(), Some(d.path()), "created in DEST's directory");
    assert_eq!(mode_of(&tmp), 0o600, "private while being written");
    assert!(!dest.exists(), "nothing at DEST before commit");
    for (i, chunk) in data.chunks(4096).enumerate().rev() {
        l.write_block((i * 4096) as u64, chunk).unwrap();
    }
    assert_eq!(l.read_block(4096, 10).unwrap(), &data[4096..4106]);
    l.commit(0o750, false).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), data);
    assert_eq!(mode_of(&dest), 0o750);
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn drop_without_commit_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("f");
    let mut l = Landing::create(d.path(), &dest, 100).unwrap();
    l.write_block(0, &[1; 50]).unwrap();
    let tmp = l.temp_path();
    assert!(tmp.exists());
    drop(l);
    assert!(!tmp.exists());
    assert!(!dest.exists());
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn existing_dest_is_replaced_atomically() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("f");
    fs::write(&dest, b"old content").unwrap();
    let old = File::open(&dest).unwrap();
    let mut l = Landing::create(d.path(), &dest, 3).unwrap();
    l.write_block(0, b"new").unwrap();
    assert_eq!(
        fs::read(&dest).unwrap(),
        b"old content",
        "untouched until commit"
    );
    l.commit(0o644, false).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"new");
    let mut buf = String::new();
    io::Read::read_to_string(&mut &old, &mut buf).unwrap();
    assert_eq!(
        buf, "old content",
        "readers of the old file are not disturbed"
    );
    // an interrupted replacement leaves the old file in place
    let l = Landing::create(d.path(), &dest, 5).unwrap();
    drop(l);
    assert_eq!(fs::read(&dest).unwrap(), b"new");
}

#[test]
fn no_space_is_reported_before_writing() {
    let dir = Path::new("/srv/x");
    check_space(dir, 10, 10).unwrap();
    let e = check_space(dir, 11, 10).unwrap_err();
    assert_eq!(e.code(), "no-space");
    assert_eq!(
        e.to_string(),
        "not enough space in /srv/x: the file needs 11 bytes, 10 are free"
    );
    // a real directory cannot hold 2^62 bytes
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("huge");
    let e = Landing::create(d.path(), &dest, 1 << 62).unwrap_err();
    assert!(
        matches!(e, LandError::NoSpace { need, .. } if need == 1 << 62),
        "{e}"
    );
    assert!(leftovers(d.path()).is_empty());
    assert!(!dest.exists());
}

#[test]
fn writes_outside_the_file_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut l = Landing::create(d.path(), &d.path().join("f"), 10).unwrap();
    let e = l.write_block(8, &[0; 3]).unwrap_err();
    assert_eq!(e.code(), "io");
    assert!(l.write_block(u64::MAX, &[0]).is_err());
    assert!(l.read_block(5, 6).is_err());
}

#[test]
fn dest_that_is_a_directory_is_refused_before_anything_is_created() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("sub");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("keep"), b"x").unwrap();
    let e = Landing::create(d.path(), &dest, 0).unwrap_err();
    assert_eq!(e.code(), "push-dest-dir", "{e}");
    assert!(e.to_string().contains("/sub is a directory"), "{e}");
    assert!(dest.join("keep").exists());
    assert!(leftovers(d.path()).is_empty());
    // textually: ends in '/', or is the push dir itself
    for dest in [
        format!("{}/f/", d.path().display()),
        format!("{}/.", d.path().display()),
        d.path().display().to_string(),
    ] {
        let e = Landing::create(d.path(), Path::new(&dest), 0).unwrap_err();
        assert_eq!(e.code(), "push-dest-dir", "{dest}: {e}");
        assert!(e.to_string().contains(&dest), "{e}");
    }
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn missing_directory_and_no_file_name_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let e = Landing::create(d.path(), &d.path().join("nope/f"), 1).unwrap_err();
    assert_eq!(e.code(), "push-no-dir");
    assert!(e.to_string().contains("nope does not exist"), "{e}");
    // a file where a directory should be
    fs::write(d.path().join("file"), b"x").unwrap();
    let e = Landing::create(d.path(), &d.path().join("file/f"), 1).unwrap_err();
    assert_eq!(e.code(), "push-no-dir", "{e}");
    assert!(Landing::create(Path::new("/"), Path::new("/"), 1).is_err());
    let e = Landing::create(&d.path().join("gone"), &d.path().join("gone/f"), 1).unwrap_err();
    assert_eq!(e.code(), "push-no-dir", "{e}");
}

#[test]
fn a_symlink_in_any_component_is_refused_and_nothing_is_created_outside() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let push = d.path().join("push");
    let outside = d.path().join("outside");
    fs::create_dir_all(push.join("real/deeper")).unwrap();
    fs::create_dir(&outside).unwrap();
    symlink(&outside, push.join("link")).unwrap();
    symlink("../outside", push.join("real/rel")).unwrap();
    symlink(push.join("real"), push.join("inside")).unwrap();
    for dest in ["link/f", "real/rel/f", "inside/f", "inside/deeper/f"] {
        let e = Landing::create(&push, &push.join(dest), 1).unwrap_err();
        assert_eq!(e.code(), "push-symlink", "{dest}: {e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
    // the walk used where openat2 is missing refuses the same
    let pd = rustix::fs::open(&push, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    for rel in ["link", "real/rel", "inside", "inside/deeper"] {
        let e = walk_beneath(pd.as_fd(), Path::new(rel)).unwrap_err();
        assert_eq!(e, rustix::io::Errno::LOOP, "{rel}");
    }
    assert!(walk_beneath(pd.as_fd(), Path::new("real/deeper")).is_ok());
    assert_eq!(
        walk_beneath(pd.as_fd(), Path::new("real/none")).unwrap_err(),
        rustix::io::Errno::NOENT
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    // DEST itself a symlink: replaced, never written through
    fs::write(outside.join("target"), b"keep").unwrap();
    symlink(outside.join("target"), push.join("real/app")).unwrap();
    let mut l = Landing::create(&push, &push.join("real/app"), 3).unwrap();
    l.write_block(0, b"new").unwrap();
    l.commit(0o644, false).unwrap();
    assert_eq!(fs::read(outside.join("target")).unwrap(), b"keep");
    assert_eq!(fs::read(push.join("real/app")).unwrap(), b"new");
    assert!(!fs::symlink_metadata(push.join("real/app"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn setid_bits_need_allow_setid() {
    let d = tempfile::tempdir().unwrap();
    let dest = d.path().join("suid");
    for mode in [0o4755, 0o2755, 0o1755] {
        let l = Landing::create(d.path(), &dest, 0).unwrap();
        let e = l.commit(mode, false).unwrap_err();
        assert_eq!(e.code(), "setid-denied", "{mode:o}");
        assert!(!dest.exists());
    }
    assert!(leftovers(d.path()).is_empty());
    let l = Landing::create(d.path(), &dest, 0).unwrap();
    l.commit(0o4755, true).unwrap();
    assert_eq!(mode_of(&dest), 0o4755);
}

#[test]
fn dest_outside_the_push_dir_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let push = d.path().join("push");
    fs::create_dir(&push).unwrap();
    for dest in [d.path().join("f"), d.path().join("pushx/f")] {
        let e = Landing::create(&push, &dest, 1).unwrap_err();
        assert_eq!(e.code(), "push-dir-denied", "{e}");
    }
}

#[test]
fn a_spool_is_anonymous() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Spool::create(d.path(), 10).unwrap();
    s.write_block(2, b"abc").unwrap();
    assert_eq!(s.read_block(2, 3).unwrap(), b"abc");
    assert!(s.write_block(8, b"abc").is_err());
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn read_only_directory_is_a_permission_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, Permissions::from_mode(0o500)).unwrap();
    if File::create(ro.join("probe")).is_ok() {
        eprintln!("skipped: running with privileges that ignore directory permissions");
        return;
    }
    let e = Landing::create(d.path(), &ro.join("f"), 1).unwrap_err();
    assert_eq!(e.code(), "permission");
    assert!(e.to_string().ends_with("/ro"), "{e}");
}

#[test]
fn io_errors_are_classified() {
    let p = Path::new("/srv/app/f");
    let e = LandError::from_io(p, io::Error::from(io::ErrorKind::PermissionDenied), 1);
    assert!(matches!(&e, LandError::Permission { path } if path == p));
    for errno in [libc::ENOSPC, libc::EDQUOT] {
        let e = LandError::from_io(p, io::Error::from_raw_os_error(errno), 7);
        assert!(
            matches!(&e, LandError::NoSpace { path, need: 7, .. } if path == Path::new("/srv/app")),
            "{e}"
        );
    }
    let e = LandError::from_io(p, io::Error::from_raw_os_error(libc::EIO), 1);
    assert_eq!(e.code(), "io");
    assert!(e.to_string().starts_with("/srv/app/f: "), "{e}");
}

#[test]
fn long_names_are_shortened() {
    let name = "n".repeat(250);
    let t = temp_name(OsStr::new(&name), 0xabc);
    assert!(t.len() <= 255);
    assert!(t.to_string_lossy().ends_with(".mon-push-00000abc"));
}
