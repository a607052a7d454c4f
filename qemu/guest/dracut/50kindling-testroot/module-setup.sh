#!/bin/bash
# dracut module of the test image (not part of Kindling): the distro side of a root filesystem
# that the disks stage creates, in Flatcar's model. See kindling-testroot.
# Also brings what a later boot needs to open such a root without a human: systemd-cryptsetup
# (crypt), the TPM2 libraries, TCTI and libcryptsetup's systemd-tpm2 token plugin (tpm2-tss),
# and RAID assembly (mdraid).

check() {
    return 255
}

depends() {
    echo systemd crypt tpm2-tss mdraid
}

install() {
    inst_multiple cp mkdir chmod mount umount
    inst_script "$moddir/kindling-testroot" /usr/libexec/kindling-testroot
    inst_simple "$moddir/kindling-testroot.service" "$systemdsystemunitdir/kindling-testroot.service"
    $SYSTEMCTL -q --root "$initdir" add-wants initrd.target kindling-testroot.service
}
