# Sourced by eng/demo.sh, eng/bench/pull-timeline.sh and eng/bench/lib/common.sh (run.sh, chunked.sh):
# a disk for containerd like a node's /var/lib/containerd (a journaled ext4), instead of this machine's root file system.
#
# Why: the root file system here is ext4 without a journal. Without a journal, ext4 skips every inode
# freed in the last 30 s (vm.dirty_expire_centisecs) when it allocates one (recently_deleted() in
# fs/ext4/ialloc.c). A benchmark pull follows the emptying of the content store and snapshots, so
# its untar allocates thousands of inodes right after thousands were freed: perf showed ~20% of
# containerd's CPU in that scan, and a cold pull of app (a) took 6.1 s (SDK image) / 4.0 s (ours) on
# the root file system against 4.6 s / 2.5 s on a journaled ext4 (35 s of settling on the root file
# system: 5.4 s / 3.2 s). The cost is per file created, the same for both images, and no node pays
# it: a node's containerd root is a journaled ext4 or xfs, and it does not delete an image's files
# seconds before every pull.

# unmount_below DIR: lazily unmounts every mount below DIR, deepest first (containerd killed mid-run
# may leave snapshot mounts behind: never rm -rf through a mount).
unmount_below() {
  awk -v d="$1" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}

# node_disk_mount DIR: a sparse 16 GiB file DIR.img on a loop device with direct I/O (so the page
# cache holds the data once, and drop_caches empties it), a journaled ext4 on it, mounted at DIR.
# Returns 1 and leaves nothing behind when that cannot be done (no loop device, not root): the
# caller then stays on its own file system and says so.
node_disk_mount() {
  local dir=$1 dev
  mkdir -p "$dir"
  truncate -s 16G "$dir.img" 2>/dev/null || return 1
  if ! dev=$(losetup -f --show --direct-io=on "$dir.img" 2>/dev/null); then
    rm -f "$dir.img"; return 1
  fi
  if ! mkfs.ext4 -q -F "$dev" >/dev/null 2>&1 || ! mount "$dev" "$dir" 2>/dev/null; then
    losetup -d "$dev" 2>/dev/null || true
    rm -f "$dir.img"; return 1
  fi
}

# node_disk_unmount DIR: unmounts what containerd left mounted under DIR (snapshots), then DIR itself,
# detaches its loop device and deletes DIR.img. Harmless when DIR was never mounted.
node_disk_unmount() {
  local dir=$1 dev
  [[ -e $dir.img ]] || return 0
  unmount_below "$dir"
  dev=$(findmnt -n -o SOURCE --target "$dir" 2>/dev/null | grep '^/dev/loop' || true)
  umount -l "$dir" 2>/dev/null || true
  # A loop device still open is detached by the kernel when its last user closes it (autoclear).
  if [[ -z $dev ]]; then dev=$(losetup -j "$dir.img" -O NAME -n 2>/dev/null | head -1); fi
  [[ -n $dev ]] && losetup -d "$dev" 2>/dev/null || true
  rm -f "$dir.img"
}

# root_fs_note: how the file system holding /tmp journals, for the report ("ext4, no journal").
root_fs_note() {
  local src type name
  read -r src type < <(findmnt -n -o SOURCE,FSTYPE --target /tmp)
  name=${src##*/}
  if [[ $type == ext4 && -r /sys/fs/ext4/$name/journal_task && $(</sys/fs/ext4/$name/journal_task) == "<none>" ]]; then
    echo "$type, no journal"
  else
    echo "$type"
  fi
}
