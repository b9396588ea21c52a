//! Jenkins' lookup3 hash (`hashlittle`), which HDF5 uses for metadata checksums.

/// The lookup3 `hashlittle` of `data` with initial value 0.
pub(crate) fn lookup3(data: &[u8]) -> u32 {
    let mut a: u32 = 0xdead_beef_u32.wrapping_add(data.len() as u32);
    let mut b = a;
    let mut c = a;
    let word = |s: &[u8]| -> u32 {
        let mut w = [0u8; 4];
        w[..s.len()].copy_from_slice(s);
        u32::from_le_bytes(w)
    };
    let mut rest = data;
    while rest.len() > 12 {
        a = a.wrapping_add(word(&rest[0..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        // mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    let take = |from: usize| -> &[u8] {
        let end = rest.len().min(from + 4);
        if from < rest.len() {
            &rest[from..end]
        } else {
            &[]
        }
    };
    a = a.wrapping_add(word(take(0)));
    b = b.wrapping_add(word(take(4)));
    c = c.wrapping_add(word(take(8)));
    // final
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

#[cfg(test)]
mod tests {
    use super::lookup3;

    #[test]
    fn known_values() {
        // Values from lookup3.c's self-test (hashlittle with initval 0).
        assert_eq!(lookup3(b""), 0xdeadbeef);
        assert_eq!(lookup3(b"Four score and seven years ago"), 0x17770551);
    }
}
