package io.basalt.node.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's chromium driven through Debian's chromedriver for the web console's tests: both
 * binaries given by path, so Selenium never looks for (or downloads) a browser or a driver of its
 * own. Headless, a small window, its own profile directory. {@link #close} stops chromedriver and
 * every chromium process under it by pid, also when the test failed.
 */
public final class ConsoleBrowser implements AutoCloseable {
    public static final String CHROMIUM = "/usr/bin/chromium";
    public static final String CHROMEDRIVER = "/usr/bin/chromedriver";
    static final Duration WAIT = Duration.ofSeconds(20);

    private final ChromeDriverService service;
    private final ChromeDriver driver;
    private final WebDriverWait wait;

    private ConsoleBrowser(ChromeDriverService service, ChromeDriver driver) {
        this.service = service;
        this.driver = driver;
        this.wait = new WebDriverWait(driver, WAIT);
    }

    /** Skips the calling test, saying what to install, unless both Debian packages are there. */
    public static void assumeInstalled() {
        for (String binary : List.of(CHROMIUM, CHROMEDRIVER)) {
            Assumptions.assumeTrue(Files.isExecutable(Path.of(binary)), () -> binary + " is missing: the console's browser tests need Debian's"
                    + " chromium and chromium-driver (apt-get install chromium chromium-driver; scripts/install-test-deps.sh)");
        }
    }

    /**
     * Starts chromedriver and a headless chromium. {@code acceptInsecureCerts}: for a TLS cluster's
     * HTTPS API, whose certificate is of the cluster's own CA that this fresh profile does not trust.
     */
    public static ConsoleBrowser start(Path profileDir, boolean acceptInsecureCerts) throws Exception {
        // With the driver given (service and property), Selenium's DriverFinder skips Selenium
        // Manager ("path to chromedriver specified in Service class"), which alone downloads; the
        // browser is given too, so nothing is looked up. ~/.cache/selenium stays absent.
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER)).usingAnyFreePort()
                .withLogFile(profileDir.resolveSibling(profileDir.getFileName() + "-chromedriver.log").toFile()).build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--user-data-dir=" + profileDir, "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps");
        options.setAcceptInsecureCerts(acceptInsecureCerts);
        try {
            return new ConsoleBrowser(service, new ChromeDriver(service, options));
        } catch (RuntimeException | Error e) {
            stopService(service);
            throw e;
        }
    }

    public WebDriver driver() {
        return driver;
    }

    /**
     * Opens {@code apiUrl}'s console at {@code /}, which must redirect to {@code /console/}, logs in
     * with {@code token} and waits for the cluster's health to read {@code OK}.
     */
    public void logIn(String apiUrl, String token) {
        driver.get(apiUrl + "/");
        assertEquals(apiUrl + "/console/", driver.getCurrentUrl(), "/ redirects to the console");
        driver.findElement(By.id("token")).sendKeys(token);
        driver.findElement(By.id("login")).click();
        wait.until(ExpectedConditions.textToBe(By.id("cluster-health"), "OK"));
    }

    /** Opens page {@code name} of the console (its link in the navigation bar). */
    public void open(String page) {
        driver.findElement(By.cssSelector("#nav a[href='#" + page + "']")).click();
        wait.until(d -> page.equals(d.findElement(By.id("main")).getAttribute("data-page")));
    }

    /** Clicks {@code button}, fills the dialog it opens with {@code values} (by field name, in order) and presses OK. */
    public void fillDialog(WebElement button, String... namesAndValues) {
        button.click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("dialog")));
        for (int i = 0; i < namesAndValues.length; i += 2) {
            driver.findElement(By.cssSelector("#dialog input[name='" + namesAndValues[i] + "']")).sendKeys(namesAndValues[i + 1]);
        }
        driver.findElement(By.id("dialog-ok")).click();
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.id("dialog")));
    }

    /** The row of the vdisks table for {@code css}, once it is shown. */
    public WebElement awaitRow(String css) {
        return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(css)));
    }

    public void awaitGone(String css) {
        wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector(css), 0));
    }

    /**
     * The acceptance scenario: on the vdisks page, creates {@code vdisk} of {@code size} through
     * the dialog and takes snapshot {@code snap} of it; both rows must show, with their space.
     */
    public void createVdiskAndSnapshot(String vdisk, String size, String sizeShown, String snap) {
        open("vdisks");
        fillDialog(driver.findElement(By.id("new-vdisk")), "name", vdisk, "size", size);
        String row = "tr.vdisk[data-vdisk='" + vdisk + "']";
        assertEquals(sizeShown, awaitRow(row + " td.size").getText(), "size of " + vdisk);
        fillDialog(driver.findElement(By.cssSelector(row + " button[data-action='snapshot']")), "name", snap);
        String snapRow = "tr.snapshot[data-snap='" + vdisk + "@" + snap + "']";
        assertEquals(sizeShown, awaitRow(snapRow + " td.size").getText(), "size of " + vdisk + "@" + snap);
        assertEquals("@" + snap, driver.findElement(By.cssSelector(snapRow + " td.name")).getText());
        // A new vdisk holds nothing yet: its used and stored space read 0 B (not "?" or blank).
        assertEquals("0 B", driver.findElement(By.cssSelector(row + " td.used")).getText(), "used space of " + vdisk);
        assertTrue(driver.findElement(By.cssSelector(row + " td.stored")).getText().matches("\\d+(\\.\\d)? (B|KiB|MiB)"),
                "stored space of " + vdisk + ": " + driver.findElement(By.cssSelector(row + " td.stored")).getText());
        assertEquals("", error(), "the console's error line");
    }

    public WebDriverWait await() {
        return wait;
    }

    /** The text of the console's error line; empty while it is hidden. */
    public String error() {
        WebElement e = driver.findElement(By.id("error"));
        return e.isDisplayed() ? e.getText() : "";
    }

    /** Saves what the window shows as {@code file} (PNG). */
    public Path screenshot(Path file) throws Exception {
        Files.createDirectories(file.getParent());
        Files.copy(driver.getScreenshotAs(OutputType.FILE).toPath(), file, StandardCopyOption.REPLACE_EXISTING);
        assertTrue(Files.size(file) > 1000, "screenshot " + file + " is " + Files.size(file) + " bytes");
        return file;
    }

    @Override
    public void close() {
        // chromium runs under chromedriver: note its processes first, since a stopped chromedriver
        // leaves orphans that are no longer its descendants.
        List<ProcessHandle> ours = new ArrayList<>();
        ProcessHandle.current().descendants().filter(p -> p.info().command().map(c -> c.contains("chrom")).orElse(false)).forEach(ours::add);
        try {
            driver.quit();
        } catch (RuntimeException e) {
            System.err.println("console browser: quit failed (" + e + "); killing its processes");
        } finally {
            stopService(service);
            for (ProcessHandle p : ours) {
                p.destroyForcibly();
            }
        }
    }

    private static void stopService(ChromeDriverService service) {
        try {
            service.stop();
        } catch (RuntimeException e) {
            System.err.println("console browser: chromedriver stop failed: " + e);
        }
    }
}
