//! Real removable-media file systems for the end-to-end tests: a FAT32 image mounted with
//! fusefat, or an exFAT image mounted with exfat-fuse (as sticks over 32 GB come), each in a
//! temporary folder and unmounted when dropped (exFAT through a loop device, which exfat-fuse
//! wants when run as root). The tools are installed by `make test`; a test
//! that needs one fails when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fs {
    Fat32,
    Exfat,
}

/// A mounted image.
pub struct Stick {
    pub img: PathBuf,
    pub mnt: PathBuf,
    pub fs: Fs,
    mounted: bool,
    /// The loop device exFAT is mounted from (exfat-fuse wants a block device as root).
    loop_dev: Option<String>,
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn require(tools: &[&str]) {
    for tool in tools {
        assert!(
            have(tool),
            "{tool} is not installed; `make test` installs it (dosfstools mtools fusefat \
             exfat-fuse exfatprogs ffmpeg)"
        );
    }
    assert!(Path::new("/dev/fuse").exists(), "/dev/fuse is missing");
}

impl Stick {
    /// A fresh image of `mb` megabytes in `dir`, formatted and mounted at `dir/stick`. FAT32
    /// uses 512-byte clusters, so that mtools reads even small ones.
    pub fn new(dir: &Path, mb: u64, fs: Fs) -> Stick {
        let (mkfs, mount): (&[&str], &str) = match fs {
            Fs::Fat32 => (
                &["mkfs.vfat", "-F", "32", "-s", "1", "-S", "512"],
                "fusefat",
            ),
            Fs::Exfat => (&["mkfs.exfat"], "mount.exfat-fuse"),
        };
        require(&[mkfs[0], mount, "ffmpeg", "losetup"]);
        if fs == Fs::Fat32 {
            require(&["mdir"]);
        }
        let name = match fs {
            Fs::Fat32 => "stick",
            Fs::Exfat => "exstick",
        };
        let img = dir.join(format!("{name}.img"));
        let mnt = dir.join(name);
        std::fs::create_dir_all(&mnt).unwrap();
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(mb * 1024 * 1024).unwrap();
        drop(f);
        let out = Command::new(mkfs[0])
            .args(&mkfs[1..])
            .arg(&img)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed: {}",
            mkfs[0],
            String::from_utf8_lossy(&out.stderr)
        );
        let mut stick = Stick {
            img,
            mnt,
            fs,
            mounted: false,
            loop_dev: None,
        };
        assert!(
            stick.mount(),
            "{mount} cannot mount {}",
            stick.img.display()
        );
        stick
    }

    pub fn mount(&mut self) -> bool {
        let (mut c, source) = match self.fs {
            Fs::Fat32 => {
                let mut c = Command::new("fusefat");
                c.args(["-o", "rw+"]);
                (c, self.img.clone())
            }
            Fs::Exfat => {
                let out = Command::new("losetup")
                    .args(["-f", "--show"])
                    .arg(&self.img)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "losetup: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
                self.loop_dev = Some(dev.clone());
                // No access times: a run that only reads must leave the image as it was.
                let mut c = Command::new("mount.exfat-fuse");
                c.args(["-o", "noatime"]);
                (c, PathBuf::from(dev))
            }
        };
        let ok = c
            .arg(&source)
            .arg(&self.mnt)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while ok && !self.is_mounted() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.mounted = ok && self.is_mounted();
        self.mounted
    }

    pub fn is_mounted(&self) -> bool {
        let mnt = self.mnt.canonicalize().unwrap_or(self.mnt.clone());
        std::fs::read_to_string("/proc/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(mnt.to_str().unwrap()))
    }

    pub fn unmount(&mut self) {
        if !self.mounted {
            return;
        }
        let ok = Command::new("umount")
            .arg(&self.mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("fusermount").arg("-u").arg(&self.mnt).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_mounted() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // The FUSE drivers write their last sectors as they exit.
        std::thread::sleep(Duration::from_millis(300));
        self.mounted = false;
        self.detach();
    }

    fn detach(&mut self) {
        if let Some(dev) = self.loop_dev.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !Command::new("losetup")
                .args(["-d", &dev])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Detaches the file system at once, even while a program has files open on it (the stick
    /// is pulled): the mount point is left bare.
    pub fn pull(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_mounted() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.mounted = false;
    }

    /// A folder's entries in on-disk order, as mtools reads the image (FAT32, unmounted).
    pub fn entries(&self, folder: &str) -> Vec<String> {
        let out = Command::new("mdir")
            .args(["-b", "-i"])
            .arg(&self.img)
            .arg(format!("::/{folder}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mdir {folder}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let prefix = format!("::/{folder}/");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// The whole tree with sizes and times, as mtools lists it (FAT32, unmounted).
    pub fn listing(&self) -> String {
        let out = Command::new("mdir")
            .args(["-/", "-a", "-i"])
            .arg(&self.img)
            .arg("::/")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Stick {
    fn drop(&mut self) {
        self.unmount();
        self.detach();
    }
}
