#!/bin/bash
# dracut module for Kindling, a drop-in replacement for 30ignition: same units, targets and
# runtime files, running /usr/bin/kindling.

# Included only when asked for (`--add kindling`) or depended on.
check() {
    return 255
}

# systemd-networkd is installed for networking on demand, and then left disabled.
depends() {
    echo qemu systemd systemd-networkd
}

installkernel() {
    # Config sources and guests: QEMU fw_cfg, virtio, vsock (hypervisor channels).
    instmods -c qemu_fw_cfg
    hostonly='' instmods virtio_blk virtio_net virtio_scsi virtio_pci virtio_console \
        hv_utils vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport \
        9p 9pnet_virtio dm_crypt raid0 raid1 raid10 raid456 md_mod \
        ext4 xfs btrfs vfat nls_cp437 nls_iso8859_1 af_packet
    # Config drives and provisioning CD-ROMs (config-2, cidata, Azure's media): ISO 9660, UDF and
    # FAT (vfat above) filesystems, on SCSI, SATA and IDE CD-ROM drives.
    hostonly='' instmods isofs udf nls_utf8 sr_mod cdrom ata_piix ahci
}

install() {
    inst_binary /usr/bin/kindling
    # Distro units and scripts call it by its upstream name.
    ln_r /usr/bin/kindling /usr/bin/ignition

    # Libraries loaded at run time (dlopen), which the ELF dependency walk cannot see.
    inst_libdir_file -o "libtss2-tcti-device.so*" "libtss2-tcti-swtpm.so*" \
        "libtss2-tcti-mssim.so*" "libtss2-tcti-tabrmd.so*" "libnss_files.so*"

    # Tools the stages run. lsblk and basename are needed on every boot; mount, umount and
    # blkid read config drives.
    inst_multiple basename lsblk modprobe mount umount blkid
    # The failure summary's text tools.
    inst_multiple head tail cut sed grep
    inst_multiple -o groupadd groupdel groupmod useradd userdel usermod chpasswd \
        mkfs.ext4 mkfs.btrfs mkfs.xfs mkfs.fat mkfs.vfat mkswap wipefs sgdisk partx \
        mdadm cryptsetup udevadm mountpoint setfiles systemctl tpm2_pcrread \
        clevis clevis-encrypt-tang clevis-encrypt-tpm2 clevis-encrypt-sss clevis-luks-bind \
        clevis-luks-unlock clevis-luks-common-functions
    # What `clevis luks bind` and the unlock check (`clevis luks pass`) run besides (crates/luks).
    inst_multiple -o clevis-decrypt clevis-decrypt-sss clevis-decrypt-tang clevis-decrypt-tpm2 \
        clevis-luks-pass clevis-luks-list jose pwmake luksmeta curl mktemp mkdir cat tr bash \
        sort uniq awk basename dirname rm touch tail wc od readlink \
        /var/cache/cracklib/cracklib_dict.hwm /var/cache/cracklib/cracklib_dict.pwd \
        /var/cache/cracklib/cracklib_dict.pwi /etc/security/pwquality.conf \
        tpm2 tpm2_createprimary tpm2_create tpm2_load tpm2_unseal tpm2_createpolicy \
        tpm2_flushcontext tpm2_pcrread

    # A distro's real kernel-argument helper, or the fallback that refuses.
    if [[ -x "$dracutsysrootdir/usr/sbin/ignition-kargs-helper" ]]; then
        inst_script /usr/sbin/ignition-kargs-helper
    else
        inst_script "$moddir/ignition-kargs-helper" /usr/sbin/ignition-kargs-helper
    fi

    inst_script "$moddir/kindling-generator" "$systemdutildir/system-generators/kindling-generator"
    inst_script "$moddir/kindling-failure-summary" /usr/libexec/kindling-failure-summary
    inst_rules "$moddir/99-xx-kindling-systemd-cryptsetup.rules"
    inst_simple "$moddir/90-kindling-dhcp.network" /etc/systemd/network/90-kindling-dhcp.network

    local unit
    for unit in ignition-complete.target ignition-diskful.target ignition-subsequent.target \
        ignition-diskful-subsequent.target ignition-remount-sysroot.service \
        kindling-neednet.service kindling-failure-summary.service; do
        inst_simple "$moddir/$unit" "$systemdsystemunitdir/$unit"
    done
    for unit in fetch-offline fetch kargs disks mount files; do
        inst_simple "$moddir/ignition-$unit.service" "$systemdsystemunitdir/ignition-$unit.service"
        $SYSTEMCTL -q --root "$initdir" add-requires ignition-complete.target "ignition-$unit.service"
    done
    $SYSTEMCTL -q --root "$initdir" add-requires ignition-complete.target kindling-neednet.service
    $SYSTEMCTL -q --root "$initdir" add-requires ignition-diskful.target ignition-remount-sysroot.service
    $SYSTEMCTL -q --root "$initdir" add-wants emergency.target kindling-failure-summary.service

    # Networking only on demand: undo what the systemd-networkd module enabled.
    $SYSTEMCTL -q --root "$initdir" disable systemd-networkd.service systemd-networkd.socket \
        systemd-networkd-wait-online.service systemd-network-generator.service 2> /dev/null || :
}
