//! The real backdoor port: the hypervisor check (CPUID leaf 0x40000000 says `VMwareVMware`)
//! and the `in eax, dx` call itself, after `iopl(3)` so the kernel lets it through. x86_64
//! only, as upstream.

use super::rpci::{Port, Regs};

/// Whether CPUID names VMware as the hypervisor.
pub fn is_vmware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let leaf = std::arch::x86_64::__cpuid(0x4000_0000);
        let mut vendor = Vec::with_capacity(12);
        for word in [leaf.ebx, leaf.ecx, leaf.edx] {
            vendor.extend_from_slice(&word.to_le_bytes());
        }
        vendor == b"VMwareVMware"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The I/O port, once the process may use it.
pub struct Backdoor(());

impl Backdoor {
    pub fn new() -> Result<Self, String> {
        if !is_vmware() {
            return Err("this machine does not run on a VMware hypervisor".into());
        }
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: iopl only changes this process's I/O privilege level.
            if unsafe { libc::iopl(3) } != 0 {
                return Err(format!(
                    "iopl(3) for the VMware backdoor: {}",
                    std::io::Error::last_os_error()
                ));
            }
            Ok(Backdoor(()))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Err("the VMware backdoor exists only on x86_64".into())
        }
    }
}

impl Port for Backdoor {
    #[cfg(target_arch = "x86_64")]
    fn call(&mut self, r: Regs) -> Regs {
        let (mut eax, mut ecx, mut edx, mut esi, mut edi) = (r.eax, r.ecx, r.edx, r.esi, r.edi);
        let mut rbx = u64::from(r.ebx);
        // SAFETY: the hypervisor traps the port; rbx is reserved by LLVM, hence the swap.
        unsafe {
            std::arch::asm!(
                "xchg {b}, rbx",
                "in eax, dx",
                "xchg {b}, rbx",
                b = inout(reg) rbx,
                inout("eax") eax,
                inout("ecx") ecx,
                inout("edx") edx,
                inout("esi") esi,
                inout("edi") edi,
            );
        }
        let ebx = rbx as u32;
        Regs {
            eax,
            ebx,
            ecx,
            edx,
            esi,
            edi,
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn call(&mut self, r: Regs) -> Regs {
        r
    }
}
