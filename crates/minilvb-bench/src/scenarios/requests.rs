//! Request bodies, as the apps send them. Our ids need no JSON escaping.

use super::*;

pub(super) fn fetch_list(body: &mut Vec<u8>, flag: u8, pageno: usize) {
    let _ = write!(
        body,
        r#"{{"flag":{flag},"pageno":{pageno},"pagesize":{PAGE},"Action":"FetchList"}}"#
    );
}

pub(super) fn get_user_info(body: &mut Vec<u8>, group: &GroupRef) {
    let kind = group.flag;
    let fileid = if group.flag == 1 { &group.key[..] } else { "" };
    let _ = write!(
        body,
        r#"{{"Action":"GetUserInfo","userid":"{}","type":{kind},"fileid":"{fileid}"}}"#,
        group.anchor
    );
}

pub(super) fn like(body: &mut Vec<u8>, group: &GroupRef) {
    let fileid = if group.flag == 1 { &group.key[..] } else { "" };
    let _ = write!(
        body,
        r#"{{"Action":"ChangeCount","userid":"{}","type":1,"optype":0,"flag":{},"fileid":"{fileid}"}}"#,
        group.anchor, group.flag
    );
}

pub(super) fn enter_group(body: &mut Vec<u8>, viewer: &str, group: &GroupRef) {
    let _ = write!(
        body,
        r#"{{"Action":"EnterGroup","userid":"{viewer}","liveuserid":"{}","groupid":"{}","nickname":"nick {viewer}","headpic":"http://img.example.com/{viewer}.png","flag":{}}}"#,
        group.anchor, group.key, group.flag
    );
}

pub(super) fn quit_group(body: &mut Vec<u8>, viewer: &str, group: &GroupRef) {
    let _ = write!(
        body,
        r#"{{"Action":"QuitGroup","userid":"{viewer}","flag":{},"liveuserid":"{}","groupid":"{}"}}"#,
        group.flag, group.anchor, group.key
    );
}

pub(super) fn member_list(body: &mut Vec<u8>, group: &GroupRef, pageno: usize, pagesize: usize) {
    let _ = write!(
        body,
        r#"{{"Action":"FetchGroupMemberList","liveuserid":"{}","groupid":"{}","pageno":{pageno},"pagesize":{pagesize}}}"#,
        group.anchor, group.key
    );
}

pub(super) fn request_lvb_addr(body: &mut Vec<u8>, userid: &str) {
    let _ = write!(
        body,
        r#"{{"Action":"RequestLVBAddr","userid":"{userid}","groupid":"{userid}-g","title":"live of {userid}","userinfo":{{"nickname":"nick {userid}","headpic":"http://img.example.com/h.png","frontcover":"http://img.example.com/f.png","location":"Shenzhen"}}}}"#
    );
}

pub(super) fn change_status(body: &mut Vec<u8>, userid: &str, status: u8) {
    let _ = write!(
        body,
        r#"{{"Action":"ChangeStatus","userid":"{userid}","status":{status}}}"#
    );
}
