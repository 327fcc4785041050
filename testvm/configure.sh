#!/bin/sh
# Configures a freshly bootstrapped Debian root filesystem as Wharf's test VM. BuildImage runs it
# inside the root with chroot, after writing /root/.ssh/authorized_keys. The VM boots with qemu
# -kernel/-initrd and root=LABEL=wharf-root, has one virtio NIC on qemu's user network (DHCP, no route
# out), and is driven over SSH as root (or as the unprivileged user "tester" for rootless tests).
set -eu

echo wharf-vm >/etc/hostname
cat >/etc/hosts <<'EOF'
127.0.0.1	localhost
127.0.1.1	wharf-vm
::1	localhost ip6-localhost ip6-loopback
EOF
echo 'LABEL=wharf-root / ext4 rw,relatime,errors=remount-ro 0 1' >/etc/fstab

# Network: DHCP on the virtio NIC with systemd-networkd; qemu's user network answers DHCP and
# DNS at 10.0.2.3 and (with restrict=on) forwards nothing to the outside.
mkdir -p /etc/systemd/network
cat >/etc/systemd/network/10-wired.network <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
echo 'nameserver 10.0.2.3' >/etc/resolv.conf
systemctl enable systemd-networkd.service

# SSH: root by key only (the key is made per image build), no DNS look-ups that would wait for
# a resolver that never answers.
mkdir -p /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config.d/wharf-testvm.conf <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
chmod 700 /root/.ssh
chmod 600 /root/.ssh/authorized_keys
systemctl enable ssh.service

# An unprivileged user for rootless Podman: the same key, subordinate IDs, and lingering so its
# systemd --user manager runs without a login session.
useradd --create-home --uid 1000 --shell /bin/bash tester
install -d -m 700 -o tester -g tester /home/tester/.ssh
install -m 600 -o tester -g tester /root/.ssh/authorized_keys /home/tester/.ssh/authorized_keys
grep -q '^tester:' /etc/subuid || echo 'tester:100000:65536' >>/etc/subuid
grep -q '^tester:' /etc/subgid || echo 'tester:100000:65536' >>/etc/subgid
mkdir -p /var/lib/systemd/linger
touch /var/lib/systemd/linger/tester

# A login prompt on the serial console, whose output the harness keeps; root has no password.
systemctl enable serial-getty@ttyS0.service
passwd -l root >/dev/null

# Boot to the multi-user target: there is no display.
systemctl set-default multi-user.target

# Journal kept across reboots, so a test can read what happened before one.
mkdir -p /var/log/journal

# Podman: netavark networking (Debian's podman 4.3 would pick CNI when its plugins are present).
mkdir -p /etc/containers/containers.conf.d
cat >/etc/containers/containers.conf.d/50-wharf-testvm.conf <<'EOF'
[network]
network_backend = "netavark"
EOF

# Nothing runs apt or other periodic work in the background of a test.
for timer in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer podman-auto-update.timer; do
	systemctl disable "$timer" 2>/dev/null || true
done

# No package sources at run time: the VM is air-gapped.
: >/etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*
apt-get clean
rm -rf /var/lib/apt/lists/*
