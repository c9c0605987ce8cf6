use super::*;

#[test]
fn spread_puts_exactly_online_rooms_online() {
    for (rooms, online) in [(10_000, 2_000), (7, 3), (5, 5), (5, 1)] {
        let n = (0..rooms).filter(|&i| spread(i, rooms, online)).count();
        assert_eq!(n, online, "{rooms} {online}");
    }
}

#[test]
fn bodies_are_json() {
    let group = GroupRef::recording("a-", 3, "f-", 4);
    let mut body = Vec::new();
    for write in [
        |b: &mut Vec<u8>, g: &GroupRef| like(b, g),
        |b: &mut Vec<u8>, g: &GroupRef| get_user_info(b, g),
        |b: &mut Vec<u8>, g: &GroupRef| enter_group(b, "v1", g),
        |b: &mut Vec<u8>, g: &GroupRef| quit_group(b, "v1", g),
        |b: &mut Vec<u8>, g: &GroupRef| member_list(b, g, 2, 20),
        |b: &mut Vec<u8>, _: &GroupRef| request_lvb_addr(b, "h1"),
        |b: &mut Vec<u8>, _: &GroupRef| change_status(b, "h1", 1),
        |b: &mut Vec<u8>, _: &GroupRef| fetch_list(b, 3, 7),
    ] {
        body.clear();
        write(&mut body, &group);
        let value: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        assert!(value["Action"].is_string(), "{value}");
    }
}

#[test]
fn the_model_follows_acknowledged_writes_only() {
    let mut model = Model::new(2);
    model.pending = Pending::Enter(1, 0);
    assert!(model.settle(Some(0)));
    model.pending = Pending::Enter(1, 0);
    model.settle(Some(0));
    model.pending = Pending::Enter(2, 1);
    assert!(!model.settle(Some(2003)));
    model.pending = Pending::Like(1);
    model.settle(Some(0));
    model.pending = Pending::Quit(1, 0);
    model.settle(Some(0));
    let expected = Expected::sum(2, &[5], std::iter::once(&model));
    assert_eq!(expected.members, vec![5, 0]);
    assert_eq!(expected.likes, vec![0, 1]);
    assert_eq!(expected.ambiguous, vec![0, 1]);
}
