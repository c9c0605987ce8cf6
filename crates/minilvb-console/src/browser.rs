//! Driving the console in a real browser, for tests (feature `browser`):
//! headless Chromium through chromedriver, both Debian's (`apt-get install
//! chromium chromium-driver`) unless `MINILVB_CHROMEDRIVER` and
//! `MINILVB_CHROMIUM` name others. The console's own browser test and the
//! server's use it alike.
//!
//! Without them a test is skipped with the reason printed, unless
//! `MINILVB_TEST_REQUIRE_BROWSER=1`, which makes it fail. Screenshots are
//! saved only into the directory a test names (see [`screenshots_dir`]), so
//! that a test run does not change the source tree unless asked to.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

/// The variable that names where screenshots go.
pub const SCREENSHOTS_VARIABLE: &str = "MINILVB_CONSOLE_SCREENSHOTS";

fn tool(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

fn chromedriver() -> String {
    tool("MINILVB_CHROMEDRIVER", "/usr/bin/chromedriver")
}

fn chromium() -> String {
    tool("MINILVB_CHROMIUM", "/usr/bin/chromium")
}

/// Why no browser can run here, if one cannot.
pub fn missing() -> Option<String> {
    [chromedriver(), chromium()]
        .into_iter()
        .find(|path| !Path::new(path).exists())
        .map(|path| format!("{path} not found (apt-get install chromium chromium-driver)"))
}

/// Whether a browser test may run: false (with the reason printed) when
/// the browser is missing; a panic then instead when
/// `MINILVB_TEST_REQUIRE_BROWSER=1`.
pub fn available_or_required(test: &str) -> bool {
    let Some(reason) = missing() else {
        return true;
    };
    if std::env::var("MINILVB_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{test}: a browser is required (MINILVB_TEST_REQUIRE_BROWSER=1), but {reason}");
    }
    eprintln!("{test}: skipped: {reason}");
    false
}

/// Where screenshots go: the directory `MINILVB_CONSOLE_SCREENSHOTS`
/// names (a relative one under `root`), or nowhere when it is unset.
pub fn screenshots_dir(root: &Path) -> Option<PathBuf> {
    let dir = std::env::var_os(SCREENSHOTS_VARIABLE).filter(|v| !v.is_empty())?;
    Some(root.join(dir))
}

/// chromedriver, stopped when dropped.
struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

async fn start_chromedriver() -> (Chromedriver, String) {
    let port = free_port();
    let child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Chromedriver(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

/// A headless Chromium with a fresh profile, and where its screenshots go.
pub struct Browser {
    pub driver: WebDriver,
    screenshots: Option<PathBuf>,
    // Dropped after the driver: the browser's profile and its chromedriver.
    _profile: tempfile::TempDir,
    _chromedriver: Chromedriver,
}

impl Browser {
    /// Starts chromedriver and a browser; screenshots go to `screenshots`
    /// (created if missing), or are not taken.
    pub async fn open(screenshots: Option<PathBuf>) -> Self {
        let (chromedriver, url) = start_chromedriver().await;
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium()).expect("the Chromium path");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--user-data-dir={}", profile.path().display()),
        ] {
            caps.add_arg(arg).expect("a Chromium argument");
        }
        let driver = WebDriver::new(&url, caps).await.expect("a browser session");
        if let Some(dir) = &screenshots {
            std::fs::create_dir_all(dir).expect("the screenshot directory");
        }
        let browser = Self {
            driver,
            screenshots,
            _profile: profile,
            _chromedriver: chromedriver,
        };
        browser.resize(1280, 900).await;
        browser
    }

    /// Ends the browser session (the driver and profile go when dropped).
    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.driver
            .set_window_rect(0, 0, width, height)
            .await
            .expect("the window resized");
    }

    pub async fn goto(&self, url: &str) {
        self.driver.goto(url).await.expect("the page opens");
    }

    /// The path of the current page.
    pub async fn path(&self) -> String {
        self.driver
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    /// The element, once it is there (pages load after clicks in their own time).
    pub async fn wait_for(&self, by: By) -> WebElement {
        self.driver
            .query(by)
            .wait(Duration::from_secs(10), Duration::from_millis(100))
            .first()
            .await
            .expect("the element appears within 10 s")
    }

    /// Waits until no element matches (a row that leaves a refreshing list).
    pub async fn wait_gone(&self, by: By) {
        self.driver
            .query(by)
            .wait(Duration::from_secs(10), Duration::from_millis(100))
            .not_exists()
            .await
            .expect("the element goes within 10 s");
    }

    /// Waits for a heading that reads `text` exactly.
    pub async fn wait_for_heading(&self, text: &str) {
        self.wait_for(By::XPath(format!("//h1[normalize-space()='{text}']")))
            .await;
    }

    /// Clicks the first `tag` (a, button) whose text is `text`.
    pub async fn click_text(&self, tag: &str, text: &str) {
        self.wait_for(By::XPath(format!("//{tag}[normalize-space()='{text}']")))
            .await
            .click()
            .await
            .expect("a click");
    }

    /// Types into the field of this name.
    pub async fn type_into(&self, name: &str, text: &str) {
        self.driver
            .find(By::Name(name))
            .await
            .expect("the field")
            .send_keys(text)
            .await
            .expect("typing");
    }

    /// Sets the field of this name to `value` by script (a date-time
    /// field's typing depends on the locale).
    pub async fn set_value(&self, name: &str, value: &str) {
        let field = self.driver.find(By::Name(name)).await.expect("the field");
        self.driver
            .execute(
                &format!("arguments[0].value = {value:?};"),
                vec![field.to_json().expect("the field as JSON")],
            )
            .await
            .expect("the value set");
    }

    /// The text of the notice an action left on the page it led to.
    pub async fn notice(&self) -> String {
        self.wait_for(By::Css(".notice"))
            .await
            .text()
            .await
            .expect("the notice's text")
    }

    /// The text of an error page (its heading, status and message).
    pub async fn problem(&self) -> String {
        self.wait_for(By::Css(".problem"))
            .await
            .text()
            .await
            .expect("the error page's text")
    }

    /// Everything the page shows, as text.
    pub async fn text(&self) -> String {
        self.driver
            .find(By::Tag("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("the body's text")
    }

    /// Signs in through the form the console's home redirects to.
    pub async fn sign_in(&self, base: &str, name: &str, password: &str) {
        self.goto(&format!("{base}/")).await;
        assert!(self.path().await.ends_with("/login"), "not sent to sign in");
        self.type_into("username", name).await;
        self.type_into("password", password).await;
        self.driver
            .find(By::Css("button[type=submit].primary"))
            .await
            .expect("the sign-in button")
            .click()
            .await
            .expect("a click");
        self.wait_for_heading("Live now").await;
    }

    /// Logs out with the button every page has.
    pub async fn sign_out(&self) {
        self.click_text("button", "Log out").await;
        let info = self
            .wait_for(By::Css(".info"))
            .await
            .text()
            .await
            .expect("the sign-in page's message");
        assert_eq!(info, "You are signed out.");
    }

    /// The action buttons and links (`Force offline`, `Ban`, `Unban`,
    /// `Resolve`, `Delete`) in the page's main part.
    pub async fn action_controls(&self) -> usize {
        self.driver
            .find_all(By::XPath(
                "//main//*[self::a or self::button][normalize-space()='Force offline' or \
                 normalize-space()='Ban' or normalize-space()='Unban' or \
                 normalize-space()='Resolve' or normalize-space()='Delete']",
            ))
            .await
            .expect("a search")
            .len()
    }

    /// Saves the window as `name` (when screenshots are asked for).
    pub async fn screenshot(&self, name: &str) {
        if let Some(dir) = &self.screenshots {
            self.driver
                .screenshot(&dir.join(name))
                .await
                .expect("a screenshot");
        }
    }

    /// Saves the whole page, `width` wide, as `name` (when screenshots are
    /// asked for): the window is made as tall as the page first.
    pub async fn full_page_screenshot(&self, width: u32, name: &str) {
        if self.screenshots.is_none() {
            return;
        }
        let height = self
            .script_number("return document.documentElement.scrollHeight;")
            .await;
        let wanted = height.clamp(600, 2400);
        self.resize(width, wanted + 90).await;
        // The window's own bars take what they take: make up the difference.
        let inner = self.script_number("return window.innerHeight;").await;
        if inner < wanted {
            self.resize(width, wanted + 90 + (wanted - inner)).await;
        }
        self.screenshot(name).await;
    }

    async fn script_number(&self, script: &str) -> u32 {
        self.driver
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
            .convert::<u32>()
            .expect("a number")
    }
}
