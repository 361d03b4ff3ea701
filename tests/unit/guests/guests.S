/* Tiny guests for test_vm_tiny.c, assembled into the test binary as data: the test copies the
 * bytes between each guest_*_start and guest_*_end label into guest RAM. Only relative jumps
 * and immediates: the code runs at whatever address the test loads it. They end the VM by
 * writing SLP_EN|SLP_TYP(5) to the ACPI PM1a control port 0x604 (a "poweroff"). */

	.section .rodata.husk_guests, "a"

/* Print the byte in %al on COM1. */
.macro putc
	mov	$0x3f8, %dx
	out	%al, %dx
.endm

.macro poweroff
	mov	$0x604, %dx
	mov	$0x3400, %ax
	out	%ax, %dx
.endm

/* Print %ebx as 8 uppercase hex digits (clobbers eax, ecx, edx). */
.macro puthex32
	mov	$8, %ecx
1:	rol	$4, %ebx
	mov	%bl, %al
	and	$0xf, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	2f
	add	$7, %al
2:	putc
	dec	%ecx
	jnz	1b
.endm

/* (a) real mode: "hello" on the UART, then power off. */
	.globl guest_hello_start, guest_hello_end
	.code16
guest_hello_start:
	mov	$'h', %al
	putc
	mov	$'e', %al
	putc
	mov	$'l', %al
	putc
	putc
	mov	$'o', %al
	putc
	poweroff
3:	jmp	3b
guest_hello_end:

/* (b) real mode: read dword 0 of 00:00.0's config space through 0xCF8/0xCFC, print it. */
	.globl guest_pci_start, guest_pci_end
guest_pci_start:
	mov	$0xcf8, %dx
	mov	$0x80000000, %eax
	out	%eax, %dx
	mov	$0xcfc, %dx
	in	%dx, %eax
	mov	%eax, %ebx
	puthex32
	poweroff
3:	jmp	3b
guest_pci_end:

/* (e) real mode: the vendor/device dword of 00:01.0, the first device after the bridge. */
	.globl guest_pci1_start, guest_pci1_end
guest_pci1_start:
	mov	$0xcf8, %dx
	mov	$0x80000800, %eax
	out	%eax, %dx
	mov	$0xcfc, %dx
	in	%dx, %eax
	mov	%eax, %ebx
	puthex32
	poweroff
3:	jmp	3b
guest_pci1_end:

/* (c) HLT: ends the VM only without an in-kernel irqchip. */
	.globl guest_hlt_start, guest_hlt_end
guest_hlt_start:
	cli
	hlt
3:	jmp	3b
guest_hlt_end:

/* (c) the i8042 reset command. */
	.globl guest_reset_start, guest_reset_end
guest_reset_start:
	mov	$0xfe, %al
	out	%al, $0x64
3:	jmp	3b
guest_reset_end:

/* (c) 32-bit protected mode: an empty IDT and an exception is a triple fault. ud2, not int3:
 * the nested KVM on the dev host reports int3 through an empty IDT as an emulation error. */
	.globl guest_triple_start, guest_triple_end
	.code32
guest_triple_start:
	sub	$8, %esp
	movl	$0, (%esp)
	movl	$0, 4(%esp)
	lidt	(%esp)
	ud2
3:	jmp	3b
guest_triple_end:

/* (d) 32-bit protected mode: read and write an address nothing claims in the MMIO hole, print
 * 'M' and what the read returned, power off. */
	.globl guest_mmio_start, guest_mmio_end
guest_mmio_start:
	mov	$0xd0000000, %esi
	mov	(%esi), %ebx
	movl	$0x12345678, 4(%esi)
	mov	$'M', %al
	putc
	puthex32
	poweroff
3:	jmp	3b
guest_mmio_end:

/* (f) 32-bit protected mode, a virtio-rng round trip through the modern virtio-pci transport
 * of 00:01.0 (BAR0 below 4 GiB): reset, negotiate VERSION_1, set up queue 0 with 8 entries at
 * 0x10000 (descriptors) / 0x11000 (avail) / 0x12000 (used), post one 16-byte device-writable
 * buffer at 0x13000, notify, wait for the used ring, print the used length in hex. */
.macro cfgw32 reg, val
	mov	$0xcf8, %dx
	mov	$(0x80000800 | \reg), %eax
	out	%eax, %dx
	mov	$0xcfc, %dx
	mov	\val, %eax
	out	%eax, %dx
.endm

	.globl guest_vq_start, guest_vq_end
guest_vq_start:
	mov	$0xcf8, %dx		/* BAR0 of 00:01.0 */
	mov	$0x80000810, %eax
	out	%eax, %dx
	mov	$0xcfc, %dx
	in	%dx, %eax
	and	$0xfffffff0, %eax
	mov	%eax, %esi		/* esi: common config */
	cfgw32	0x04, $0x6		/* memory space, bus master */
	movb	$0, 0x14(%esi)		/* reset */
	movb	$1, 0x14(%esi)		/* ACKNOWLEDGE */
	movb	$3, 0x14(%esi)		/* DRIVER */
	movl	$1, 0x08(%esi)		/* driver_feature_select 1 */
	movl	$1, 0x0c(%esi)		/* VIRTIO_F_VERSION_1 (bit 32) */
	movb	$0xb, 0x14(%esi)	/* FEATURES_OK */
	movw	$0, 0x16(%esi)		/* queue_select 0 */
	movw	$8, 0x18(%esi)		/* queue_size */
	movl	$0x10000, 0x20(%esi)
	movl	$0, 0x24(%esi)
	movl	$0x11000, 0x28(%esi)
	movl	$0, 0x2c(%esi)
	movl	$0x12000, 0x30(%esi)
	movl	$0, 0x34(%esi)
	movw	$1, 0x1c(%esi)		/* queue_enable */
	movb	$0xf, 0x14(%esi)	/* DRIVER_OK */
	movl	$0x13000, 0x10000	/* desc 0: addr, len 16, flags WRITE */
	movl	$0, 0x10004
	movl	$16, 0x10008
	movw	$2, 0x1000c
	movw	$0, 0x1000e
	movw	$0, 0x11004		/* avail ring[0] = 0 */
	movw	$1, 0x11002		/* avail idx = 1 */
	movzwl	0x1e(%esi), %edi	/* queue_notify_off */
	shl	$2, %edi
	lea	0x3000(%esi,%edi), %edi
	movw	$0, (%edi)		/* notify queue 0 */
	mov	$0x4000000, %ecx
4:	cmpw	$0, 0x12002		/* used idx */
	jne	5f
	dec	%ecx
	jnz	4b
	mov	$'T', %al		/* timed out */
	putc
	jmp	6f
5:	mov	0x12008, %ebx		/* used ring[0].len */
	puthex32
6:	poweroff
3:	jmp	3b
guest_vq_end:

/* Long mode through the boot page tables and GDT: print "64", power off. */
	.globl guest_long_start, guest_long_end
	.code64
guest_long_start:
	mov	$'6', %al
	putc
	mov	$'4', %al
	putc
	mov	%cr0, %rbx	/* PG must be set */
	shr	$31, %rbx
	mov	%bl, %al
	add	$'0', %al
	putc
	poweroff
3:	jmp	3b
guest_long_end:

	.section .note.GNU-stack, "", @progbits
