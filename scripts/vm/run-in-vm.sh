#!/usr/bin/env bash
# Run a command as root inside a throw-away qemu VM that boots Debian's stock kernel with THIS
# machine's filesystem as its root, for kernel features the host lacks (FoU, IPIP, ip6tnl).
#
#   scripts/vm/run-in-vm.sh [--] COMMAND [ARG]...   run COMMAND (argv, no shell) in the VM; its exit code
#   scripts/vm/run-in-vm.sh --prepare               fetch the kernel and build the boot files (cached), no boot
#   scripts/vm/run-in-vm.sh --check                 exit 0 when a VM can start (nothing fetched or built)
#
# How (virtme-style): the host's / is shared read-only over virtio-9p with a tmpfs overlay on top (the
# guest can write anywhere; every write is discarded at exit), so the host's Node, iproute2, nft and this
# checkout are what runs inside. The kernel is Debian's linux-image-<ver>-amd64 package (`apt-get download`
# + `dpkg-deb -x` into the cache; nothing is installed on the host), booted as an uncompressed vmlinux
# (extracted once: saves ~2.5 s of decompression under TCG) with a tiny initramfs of our own (busybox-static,
# the modules to reach the root, the tunnel and nftables modules preloaded; any other module autoloads).
# COMMAND runs in the working directory it was started from, with PATH and the COIL_VM_ENV variables; its
# output (stdout and stderr merged) goes to a second, writable 9p share, which this script follows onto its
# stdout; the exit code comes back the same way, then the guest powers off. There is no network card.
#
# Exit codes: COMMAND's own; 124 timed out (COIL_VM_TIMEOUT); 125 the VM could not run COMMAND.
#
# Needs: qemu-system-x86 (apt-get install --no-install-recommends qemu-system-x86), busybox-static, apt-get
# and dpkg-deb (the first --prepare only). /dev/kvm is used when writable, else TCG (~5x slower JS).
#
# Knobs:
#   COIL_VM_CACHE=~/.cache/coil-vm   kernel, vmlinux, initramfs (one lock; two VMs may run at once)
#   COIL_VM_TIMEOUT=0                seconds until qemu is killed (0 = none), exit 124
#   COIL_VM_MEM=2G COIL_VM_SMP=2     qemu -m / -smp
#   COIL_VM_ENV="VAR1 VAR2"          host environment variables passed to COMMAND (besides PATH, LANG, TZ, TERM)
#   COIL_VM_MODULES="..."            extra modules to preload (names as in modules.dep)
#   COIL_VM_TIMING=1                 print "coil-vm timing: ..." on stderr (boot = qemu start -> COMMAND start)
#   COIL_VM_CONSOLE=1                copy the guest's kernel console to stderr at the end
#   COIL_VM_KEEP=1                   keep the run directory (cmd, output, rc, console.log)
set -uo pipefail

SELF=$(readlink -f "$0")
CACHE=${COIL_VM_CACHE:-${HOME:-/root}/.cache/coil-vm}
MEM=${COIL_VM_MEM:-2G}
SMP=${COIL_VM_SMP:-2}
TIMEOUT=${COIL_VM_TIMEOUT:-0}
# Modules needed to reach the host root (loaded first, dependencies before), then the ones preloaded for
# the tests: fou has no autoload alias in 6.1; crc32c_generic must be there before nf_tables (libcrc32c).
BOOT_MODULES="virtio_pci 9pnet_virtio 9p overlay"
NET_MODULES="fou fou6 ipip ip6_tunnel tunnel4 tunnel6 ip_tunnel udp_tunnel ip6_udp_tunnel vxlan veth crc32c_generic nf_tables ${COIL_VM_MODULES:-}"

die() { echo "run-in-vm: $*" >&2; exit 125; }
now() { echo "${EPOCHREALTIME/,/.}"; }
T0=$(now)

MODE=run
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --check) MODE=check ;;
  --) shift ;;
  "") die "usage: $0 [--] COMMAND [ARG]... | --prepare | --check" ;;
esac

QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is missing: apt-get install -y --no-install-recommends qemu-system-x86"
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] && "$BUSYBOX" --list 2>/dev/null | grep -x depmod >/dev/null || die "busybox-static is missing: apt-get install -y busybox-static"
mkdir -p "$CACHE" || die "cannot create $CACHE"

# ------------------------------------------------------------------ kernel ---
kernel_files() { # sets KIMG KVER MODDIR from the cache; false when not there
  KIMG=$(ls -1 "$CACHE"/kroot/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
  [[ -n $KIMG ]] || return 1
  KVER=${KIMG##*/vmlinuz-}
  MODDIR=$CACHE/kroot/lib/modules/$KVER
  [[ -d $MODDIR/kernel ]]
}
fetch_kernel() { # Debian's default kernel package, downloaded and unpacked (not installed)
  local pkg deb
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [[ -n $pkg ]] || { apt-get update -qq >&2 && pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); }
  [[ -n $pkg ]] || die "cannot resolve Debian's linux-image-amd64 to a kernel package"
  echo "run-in-vm: downloading $pkg (apt-get download, unpacked into $CACHE/kroot)" >&2
  mkdir -p "$CACHE/debs" && (cd "$CACHE/debs" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
  deb=$(ls -t "$CACHE"/debs/"$pkg"_*.deb | head -1)
  rm -rf "$CACHE/kroot.tmp" && mkdir -p "$CACHE/kroot.tmp" && dpkg-deb -x "$deb" "$CACHE/kroot.tmp" &&
    rm -rf "$CACHE/kroot" && mv "$CACHE/kroot.tmp" "$CACHE/kroot" && rm -f "$deb" || die "unpacking $deb failed"
}
extract_vmlinux() { # $1 bzImage -> $2 ELF vmlinux (xz, zstd or gzip payload)
  local magic off tool
  for magic in $'\xfd7zXZ\x00':"xz -dc --single-stream" $'\x28\xb5\x2f\xfd':"zstd -dc" $'\x1f\x8b\x08':"gzip -dc"; do
    tool=${magic#*:}; magic=${magic%%:*}
    command -v "${tool%% *}" >/dev/null || continue
    for off in $(grep -abo "$magic" "$1" 2>/dev/null | cut -d: -f1 | head -5); do
      tail -c +$((off + 1)) "$1" | $tool >"$2.tmp" 2>/dev/null
      if [[ "$(head -c 4 "$2.tmp" 2>/dev/null)" == $'\x7fELF' ]]; then mv "$2.tmp" "$2"; return 0; fi
    done
  done
  rm -f "$2.tmp"
  return 1
}

# --------------------------------------------------------------- initramfs ---
declare -A DEP SEEN PATHOF
ORDER=()
visit() { # depth first: dependencies before the module
  local m=$1 d
  [[ -n ${SEEN[$m]:-} ]] && return 0
  SEEN[$m]=1
  [[ -n ${DEP[$m]+x} ]] || die "module $m not found in $MODDIR"
  for d in ${DEP[$m]}; do d=${d##*/}; d=${d%.ko}; visit "${d//-/_}"; done
  ORDER+=("$m")
}
build_initramfs() { # $1 output
  local line p m root i=0 nboot
  DEP=() SEEN=() PATHOF=() ORDER=()
  while IFS= read -r line; do
    p=${line%%:*}; m=${p##*/}; m=${m%.ko}; m=${m//-/_}
    DEP[$m]=${line#*:}; PATHOF[$m]=$p
  done <"$MODDIR/modules.dep"
  for m in $BOOT_MODULES; do visit "${m//-/_}"; done
  nboot=${#ORDER[@]}
  for m in $NET_MODULES; do visit "${m//-/_}"; done
  root=$(mktemp -d "$CACHE/initramfs.XXXXXX") || return 1
  mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,mnt/host,mnt/out,mnt/rw,newroot,lib/modules/$KVER}
  cp "$BUSYBOX" "$root/bin/busybox"
  for m in $("$BUSYBOX" --list); do [[ -e $root/bin/$m ]] || ln -s busybox "$root/bin/$m"; done
  ln -s ../bin/busybox "$root/sbin/modprobe" # the kernel's module autoload helper
  : >"$root/etc/modules.boot"
  : >"$root/etc/modules.load"
  for m in "${ORDER[@]}"; do
    mkdir -p "$root/lib/modules/$KVER/${PATHOF[$m]%/*}"
    cp "$MODDIR/${PATHOF[$m]}" "$root/lib/modules/$KVER/${PATHOF[$m]}"
    if ((i < nboot)); then echo "/lib/modules/$KVER/${PATHOF[$m]}" >>"$root/etc/modules.boot"; else echo "${m}" >>"$root/etc/modules.load"; fi
    i=$((i + 1))
  done
  echo "$KVER" >"$root/etc/kver"
  sed -n '/^#GUEST-INIT-BEGIN$/,/^#GUEST-INIT-END$/p' "$SELF" | sed '1d;$d' >"$root/init"
  chmod 755 "$root/init"
  (cd "$root" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$1.tmp" && mv "$1.tmp" "$1"
  local rc=$?
  rm -rf "$root"
  return $rc
}

# The boot files, checked (and in prepare mode made) under the cache lock.
exec 9>"$CACHE/.lock"
flock 9
if ! kernel_files; then
  [[ $MODE == check ]] && { echo "run-in-vm: no kernel in $CACHE (run $0 --prepare)" >&2; exit 1; }
  [[ $MODE == prepare ]] || die "no kernel in $CACHE: run $0 --prepare first (npm run test:prepare does)"
  fetch_kernel
  kernel_files || die "no kernel and modules in the package unpacked into $CACHE/kroot"
fi
VMLINUX=$CACHE/vmlinux-$KVER
INITRD=$CACHE/initramfs-$KVER.cpio.gz
STAMP="$(cksum <"$SELF" | cut -d' ' -f1) $NET_MODULES"
ready() { [[ -s $VMLINUX && -s $INITRD && -s $MODDIR/modules.dep && "$(cat "$INITRD.stamp" 2>/dev/null)" == "$STAMP" ]]; }
if ! ready; then
  [[ $MODE == check ]] && { echo "run-in-vm: boot files in $CACHE are missing or stale (run $0 --prepare)" >&2; exit 1; }
  [[ -s $MODDIR/modules.dep ]] || "$BUSYBOX" depmod -b "$CACHE/kroot" "$KVER" || die "depmod failed" # kmod may be absent
  [[ -s $VMLINUX ]] || extract_vmlinux "$KIMG" "$VMLINUX" || cp "$KIMG" "$VMLINUX" # a bzImage boots too, slower
  build_initramfs "$INITRD" || die "initramfs build failed"
  echo "$STAMP" >"$INITRD.stamp"
fi
flock -u 9
exec 9>&-
if [[ $MODE == prepare ]]; then echo "run-in-vm: ready ($KVER in $CACHE)"; exit 0; fi
if [[ $MODE == check ]]; then
  [[ -e /dev/kvm && -w /dev/kvm ]] && echo "run-in-vm: ready ($KVER, KVM)" || echo "run-in-vm: ready ($KVER, TCG emulation)"
  exit 0
fi
[[ $# -ge 1 ]] || die "no command given"

# ----------------------------------------------------------------- run dir ---
RUN=$(mktemp -d "${TMPDIR:-/tmp}/coil-vm-run.XXXXXX") || die "mktemp failed"
SHARE=$RUN/share # the guest's writable share, mounted at the same path inside
mkdir -p "$SHARE" || die "run dir set-up failed"
QPID="" WPID="" TPID=""
cleanup() {
  [[ -n $QPID ]] && kill "$QPID" 2>/dev/null
  [[ -n $WPID ]] && kill "$WPID" 2>/dev/null
  [[ -n $TPID ]] && kill "$TPID" 2>/dev/null
  if [[ ${COIL_VM_KEEP:-0} == 1 ]]; then echo "run-in-vm: kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

{
  echo "# generated by run-in-vm.sh"
  for v in PATH LANG LC_ALL TZ TERM ${COIL_VM_ENV:-}; do
    [[ -n ${!v+x} ]] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  printf 'cd %q 2>/dev/null || cd /\n' "$(pwd -P)"
  printf ': > %q\n' "$SHARE/started"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$SHARE/cmd"
printf "OUT_PATH='%s'\nMODTREE='%s'\n" "$SHARE" "$MODDIR" >"$SHARE/config"

APPEND="console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off tsc=reliable no_timer_check 8250.nr_uarts=1 random.trust_cpu=on"
QARGS=(-name coil-vm -nodefaults -no-user-config -display none -no-reboot
  -machine pc -cpu max -m "$MEM" -smp "$SMP"
  -kernel "$VMLINUX" -initrd "$INITRD" -append "$APPEND"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap"
  -virtfs "local,path=$SHARE,mount_tag=coilout,security_model=passthrough,multidevs=remap"
  -chardev "file,id=con,path=$RUN/console.log" -serial chardev:con)
if [[ -e /dev/kvm && -w /dev/kvm ]]; then QARGS+=(-accel kvm); else QARGS+=(-accel tcg,thread=multi); fi

: >"$SHARE/output"
TQ=$(now)
# `timeout` forwards a TERM sent to it (our cleanup) to qemu, and ends qemu itself after COIL_VM_TIMEOUT.
timeout -k 5 "${TIMEOUT}" "$QEMU" "${QARGS[@]}" </dev/null >"$RUN/qemu.out" 2>"$RUN/qemu.err" &
QPID=$!
# Boot time: when the guest's command wrapper creates `started` (9p writes land on the host at once).
(while kill -0 "$QPID" 2>/dev/null; do [[ -e $SHARE/started ]] && { now >"$RUN/tstart"; exit 0; }; sleep 0.05; done) &
WPID=$!
# Follow the output until qemu exits (tail --pid), then the last bytes. Both run in the background:
# bash runs a trap (SIGTERM from a test's timeout) only between foreground commands, `wait` included.
tail -c +1 -s 0.1 --pid="$QPID" -f "$SHARE/output" &
TPID=$!
wait "$QPID"
QRC=$?
QPID=""
wait "$TPID"
TPID=""
TEND=$(now)
wait "$WPID" 2>/dev/null
WPID=""

RC=125
if [[ -s $SHARE/rc ]]; then
  RC=$(cat "$SHARE/rc")
elif [[ $TIMEOUT != 0 && ($QRC == 124 || $QRC == 137) ]]; then
  echo "run-in-vm: timed out after ${TIMEOUT}s (qemu killed)" >&2
  RC=124
else
  echo "run-in-vm: the VM ended without an exit code (qemu rc=$QRC); guest console tail:" >&2
  tail -n 40 "$RUN/console.log" >&2 2>/dev/null
  cat "$RUN/qemu.err" >&2 2>/dev/null
fi
[[ ${COIL_VM_CONSOLE:-0} == 1 ]] && { echo "run-in-vm: guest console:" >&2; cat "$RUN/console.log" >&2; }
if [[ ${COIL_VM_TIMING:-0} == 1 ]]; then
  awk -v a="$T0" -v q="$TQ" -v s="$(cat "$RUN/tstart" 2>/dev/null || echo 0)" -v e="$TEND" 'BEGIN{
    printf "coil-vm timing: setup %.2fs, boot %s, command %s, total %.2fs\n", q-a,
      (s>0 ? sprintf("%.2fs", s-q) : "n/a"), (s>0 ? sprintf("%.2fs", e-s) : "n/a"), e-a }' >&2
fi
exit "$RC"

# ------------------------------------------------- guest /init (busybox sh) ---
#GUEST-INIT-BEGIN
#!/bin/sh
# PID 1 in the VM. It never chroots itself: it shares its fs_struct with kthreadd, and the kernel's module
# autoload helper (/sbin/modprobe) must keep resolving in this initramfs. The command runs in a child chroot.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
log() { echo "[coil-vm $(cut -d' ' -f1 /proc/uptime)] $*" >/dev/ttyS0; }
fail() { log "FATAL: $*"; echo 125 >/mnt/out/rc 2>/dev/null; sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }
KVER=$(cat /etc/kver)
while read -r m; do insmod "$m" || log "insmod $m failed"; done </etc/modules.boot
O9P="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$O9P,cache=loose,ro" hostroot /mnt/host || fail "9p hostroot"
mount -t 9p -o "$O9P,cache=mmap" coilout /mnt/out || fail "9p coilout"
. /mnt/out/config
mount -t tmpfs -o mode=755 rw /mnt/rw && mkdir -p /mnt/rw/upper /mnt/rw/work || fail tmpfs
mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot || fail overlay
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t tmpfs -o mode=755 run $R/run
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
mkdir -p "$R$OUT_PATH" && mount --move /mnt/out "$R$OUT_PATH" || fail "move the output share"
OUT=$R$OUT_PATH
# The kernel's full module tree (in the host's cache, seen through the 9p root) for on-demand loading.
d=/mnt/host$MODTREE
if [ -s "$d/modules.dep" ]; then mount --bind "$d" "/lib/modules/$KVER" && mkdir -p "$R/lib/modules/$KVER" && mount --bind "$d" "$R/lib/modules/$KVER"; fi
if [ -s "/lib/modules/$KVER/modules.dep" ]; then modprobe -a $(cat /etc/modules.load) || log "modprobe failed"
else log "no module tree found: only the preloaded modules"; for m in $(cat /etc/modules.load); do modprobe "$m"; done; fi
# modprobe & co. for the command (kmod may be missing on the host): busybox's
for t in modprobe lsmod insmod rmmod; do
  [ -e $R/sbin/$t ] || [ -e $R/usr/sbin/$t ] || { mkdir -p $R/usr/local/sbin; touch $R/usr/local/sbin/$t && mount --bind /bin/busybox $R/usr/local/sbin/$t; }
done
echo /sbin/modprobe >/proc/sys/kernel/modprobe
hostname coil-vm
ip link set lo up
log "running the command"
SH=/bin/sh
[ -x $R/bin/bash ] && SH=/bin/bash
env -i HOME=/root USER=root LOGNAME=root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot $R $SH "$OUT_PATH/cmd" </dev/null >>"$OUT/output" 2>&1
rc=$?
echo "$rc" >"$OUT/rc"
log "command done rc=$rc"
sync
umount "$OUT" 2>/dev/null
poweroff -f
sleep 5
echo o >/proc/sysrq-trigger
#GUEST-INIT-END
